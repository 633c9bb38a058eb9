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

// Server is a server whose log the kernel holds in memory (SPEC R12). A
// server over its own storage calls PushReads and PlanPush instead.
type Server struct {
	mu     sync.Mutex
	handle *C.FmServer
}

func newServer(f func(handle **C.FmServer, out **C.char) C.enum_FmStatus) (*Server, error) {
	var handle *C.FmServer
	if _, err := call(func(out **C.char) C.enum_FmStatus { return f(&handle, out) }); err != nil {
		return nil, err
	}
	s := &Server{handle: handle}
	runtime.SetFinalizer(s, func(s *Server) { _ = s.Close() })
	return s, nil
}

// NewServer is a server with an empty log and the configuration
// {skew_ms_max, page_size_max}.
func NewServer(config json.RawMessage) (*Server, error) {
	p, n := buf(config)
	return newServer(func(h **C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_new(p, n, h, out) })
}

// ServerFromLog rebuilds a server from its configuration, log and client
// table (SPEC R13.2).
func ServerFromLog(config, log, clients json.RawMessage) (*Server, error) {
	pc, nc := buf(config)
	pl, nl := buf(log)
	pt, nt := buf(clients)
	return newServer(func(h **C.FmServer, out **C.char) C.enum_FmStatus {
		return C.fm_server_from_log(pc, nc, pl, nl, pt, nt, h, out)
	})
}

// Close frees the server. Later calls return an error with code "closed".
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handle == nil {
		return closedError()
	}
	h := s.handle
	s.handle = nil
	runtime.SetFinalizer(s, nil)
	_, err := call(func(out **C.char) C.enum_FmStatus { return C.fm_server_free(h, out) })
	return err
}

func (s *Server) do(f func(h *C.FmServer, out **C.char) C.enum_FmStatus) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handle == nil {
		return nil, closedError()
	}
	h := s.handle
	text, err := call(func(out **C.char) C.enum_FmStatus { return f(h, out) })
	runtime.KeepAlive(s)
	return text, err
}

// Push handles a push at the server's time now (SPEC R12.1-R12.4): the
// reply, or an *Error whose Body is the refusal.
func (s *Server) Push(push json.RawMessage, now string) (json.RawMessage, error) {
	nowBytes := []byte(now)
	p, n := buf(push)
	pn, nn := buf(nowBytes)
	return s.do(func(h *C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_push(h, p, n, pn, nn, out) })
}

// Pull is a page of the log after a pull {cursor, limit?} (SPEC R12.2).
func (s *Server) Pull(pull json.RawMessage) (json.RawMessage, error) {
	p, n := buf(pull)
	return s.do(func(h *C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_pull(h, p, n, out) })
}

// Write is a server-side write {writer, actor, table, id, patch, now}.
func (s *Server) Write(args json.RawMessage) (json.RawMessage, error) {
	p, n := buf(args)
	return s.do(func(h *C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_write(h, p, n, out) })
}

// Bootstrap is a server-side bootstrap {kind, scope, fields} (SPEC R10.3).
func (s *Server) Bootstrap(args json.RawMessage) (json.RawMessage, error) {
	p, n := buf(args)
	return s.do(func(h *C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_bootstrap(h, p, n, out) })
}

// Log is the whole log, wire changes with server_seq.
func (s *Server) Log() (json.RawMessage, error) {
	return s.do(func(h *C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_log(h, out) })
}

// Clients is the client table {client_id: {last_seq, clock_epoch}}.
func (s *Server) Clients() (json.RawMessage, error) {
	return s.do(func(h *C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_clients(h, out) })
}

// Records is the materialized state, sorted.
func (s *Server) Records() (json.RawMessage, error) {
	return s.do(func(h *C.FmServer, out **C.char) C.enum_FmStatus { return C.fm_server_records(h, out) })
}
