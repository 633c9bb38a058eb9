package fieldmerge

/*
#include "fieldmerge.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
)

// Replica is a device's replica (SPEC R2, R5, R6, R10, R12.4). Its
// persisted state (State, SPEC R12.5) is what a device stores after every
// operation; LoadReplica brings it back.
type Replica struct {
	mu     sync.Mutex
	handle *C.FmReplica
}

func newReplica(f func(handle **C.FmReplica, out **C.char) C.enum_FmStatus) (*Replica, error) {
	var handle *C.FmReplica
	if _, err := call(func(out **C.char) C.enum_FmStatus { return f(&handle, out) }); err != nil {
		return nil, err
	}
	r := &Replica{handle: handle}
	runtime.SetFinalizer(r, func(r *Replica) { _ = r.Close() })
	return r, nil
}

// NewReplica is a fresh replica whose client id is clientID (a name of 1
// to 256 bytes, SPEC R11.6).
func NewReplica(clientID string) (*Replica, error) {
	id := []byte(clientID)
	p, n := buf(id)
	return newReplica(func(h **C.FmReplica, out **C.char) C.enum_FmStatus { return C.fm_replica_new(p, n, h, out) })
}

// LoadReplica loads a replica from its persisted state (SPEC R12.5).
func LoadReplica(state json.RawMessage) (*Replica, error) {
	p, n := buf(state)
	return newReplica(func(h **C.FmReplica, out **C.char) C.enum_FmStatus { return C.fm_replica_load(p, n, h, out) })
}

// Close frees the replica. Later calls return an error with code "closed".
func (r *Replica) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handle == nil {
		return closedError()
	}
	h := r.handle
	r.handle = nil
	runtime.SetFinalizer(r, nil)
	_, err := call(func(out **C.char) C.enum_FmStatus { return C.fm_replica_free(h, out) })
	return err
}

// do runs one call on the live handle, holding the replica's lock.
func (r *Replica) do(f func(h *C.FmReplica, out **C.char) C.enum_FmStatus) (json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handle == nil {
		return nil, closedError()
	}
	h := r.handle
	text, err := call(func(out **C.char) C.enum_FmStatus { return f(h, out) })
	runtime.KeepAlive(r)
	return text, err
}

type argsFn func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus

func (r *Replica) withArgs(args []byte, f argsFn) (json.RawMessage, error) {
	p, n := buf(args)
	return r.do(func(h *C.FmReplica, out **C.char) C.enum_FmStatus { return f(h, p, n, out) })
}

// State is the persisted state (SPEC R12.5).
func (r *Replica) State() (json.RawMessage, error) {
	return r.do(func(h *C.FmReplica, out **C.char) C.enum_FmStatus { return C.fm_replica_state(h, out) })
}

// Write is a local write {table, id, actor, patch, now} (SPEC R5): the wire
// change, or null when nothing changed.
func (r *Replica) Write(args json.RawMessage) (json.RawMessage, error) {
	return r.withArgs(args, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_write(h, p, n, out)
	})
}

// Delete is a soft delete {table, id, actor, now} (SPEC R9.1).
func (r *Replica) Delete(args json.RawMessage) (json.RawMessage, error) {
	return r.withArgs(args, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_delete(h, p, n, out)
	})
}

// Restore undoes a delete {table, id, actor, now} (SPEC R9.1).
func (r *Replica) Restore(args json.RawMessage) (json.RawMessage, error) {
	return r.withArgs(args, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_restore(h, p, n, out)
	})
}

// Bootstrap writes a placeholder {kind, scope, fields} (SPEC R10).
func (r *Replica) Bootstrap(args json.RawMessage) (json.RawMessage, error) {
	return r.withArgs(args, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_bootstrap(h, p, n, out)
	})
}

// Apply applies a batch of wire changes (SPEC R6, R11.5), as an initial
// hydration round when hydration is true: the report.
func (r *Replica) Apply(batch json.RawMessage, hydration bool) (json.RawMessage, error) {
	flag := C.int32_t(0)
	if hydration {
		flag = 1
	}
	p, n := buf(batch)
	return r.do(func(h *C.FmReplica, out **C.char) C.enum_FmStatus { return C.fm_replica_apply(h, p, n, flag, out) })
}

// ApplyPage applies a pulled page {after, changes, head} (SPEC R12.2).
func (r *Replica) ApplyPage(page json.RawMessage) (json.RawMessage, error) {
	return r.withArgs(page, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_apply_page(h, p, n, out)
	})
}

// ReceiveReply receives the reply to its push in one call (SPEC R13.4).
func (r *Replica) ReceiveReply(reply json.RawMessage) (json.RawMessage, error) {
	return r.withArgs(reply, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_receive_reply(h, p, n, out)
	})
}

// ReceiveRefusal receives a push refusal (the refusal's Error.Body) in one
// call at the device's wall time now (SPEC R13.4): it acknowledges and
// corrects the clock.
func (r *Replica) ReceiveRefusal(refusal json.RawMessage, now string) error {
	nowBytes := []byte(now)
	p, n := buf(refusal)
	pn, nn := buf(nowBytes)
	_, err := r.do(func(h *C.FmReplica, out **C.char) C.enum_FmStatus {
		return C.fm_replica_receive_refusal(h, p, n, pn, nn, out)
	})
	return err
}

// Push is the push of the whole outbox (SPEC R12.1).
func (r *Replica) Push() (json.RawMessage, error) {
	return r.do(func(h *C.FmReplica, out **C.char) C.enum_FmStatus { return C.fm_replica_push(h, out) })
}

// Ack acknowledges through a client_seq (its JSON text, or null), SPEC R12.1.
func (r *Replica) Ack(through json.RawMessage) error {
	_, err := r.withArgs(through, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_ack(h, p, n, out)
	})
	return err
}

// ResetCursor forgets the cursor: the next pull is a new hydration round.
func (r *Replica) ResetCursor() error {
	_, err := r.do(func(h *C.FmReplica, out **C.char) C.enum_FmStatus { return C.fm_replica_reset_cursor(h, out) })
	return err
}

// CorrectClock corrects the clock {server_now, skew_ms_max, log_high, clock_epoch,
// now} (SPEC R12.4).
func (r *Replica) CorrectClock(args json.RawMessage) error {
	_, err := r.withArgs(args, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_correct_clock(h, p, n, out)
	})
	return err
}

// Merge merges another replica's persisted state (SPEC R4.5): the report.
func (r *Replica) Merge(state json.RawMessage) (json.RawMessage, error) {
	return r.withArgs(state, func(h *C.FmReplica, p *C.uint8_t, n C.size_t, out **C.char) C.enum_FmStatus {
		return C.fm_replica_merge(h, p, n, out)
	})
}
