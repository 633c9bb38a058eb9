// Package fieldmerge is the Go binding of the fieldmerge kernel: per-field
// registers merged with field-level last-writer-wins, exact conflict
// classification, and the server's pure side (spec/SPEC.md).
//
// It calls the kernel's C ABI (crates/fieldmerge-ffi) through cgo. Every
// argument and result is JSON text in the forms of SPEC R13.1, passed as
// json.RawMessage and never re-encoded by encoding/json, so values keep
// exactly the meaning the kernel gives them (SPEC R4.4). Build the library
// first: cargo build --release -p fieldmerge-ffi (from the repository root).
//
// Every failure is an *Error carrying the kernel's stable code. A Replica
// or Server is safe for use by several goroutines (calls are serialized);
// Close it when done (a finalizer closes a forgotten one).
package fieldmerge

/*
#cgo CFLAGS: -I${SRCDIR}/../../crates/fieldmerge-ffi/include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libfieldmerge_ffi.a -lpthread -ldl -lm
#include <stdlib.h>
#include "fieldmerge.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"unsafe"
)

// Error is a refusal by the kernel or the binding: nothing changed.
type Error struct {
	code    string
	message string
	index   *int
	field   *string
	body    json.RawMessage
}

// Code is the stable error code (spec/vectors/README.md lists them), such
// as "bad_name", "clock_ahead" or, from the binding, "bad_handle", "panic",
// "poisoned" and "closed".
func (e *Error) Code() string { return e.code }

// Message says what was wrong, for people.
func (e *Error) Message() string { return e.message }

// Index is the position of the change the error names, if any.
func (e *Error) Index() (int, bool) {
	if e.index == nil {
		return 0, false
	}
	return *e.index, true
}

// Field is the field the error names, if any.
func (e *Error) Field() (string, bool) {
	if e.field == nil {
		return "", false
	}
	return *e.field, true
}

// Body is the error's whole JSON form: {code, message, index?, field?},
// and for a push refusal every member a client corrects its clock with
// (pass it to Replica.ReceiveRefusal).
func (e *Error) Body() json.RawMessage { return e.body }

func (e *Error) Error() string { return e.code + ": " + e.message }

func errorOf(text []byte) *Error {
	var form struct {
		Code    string  `json:"code"`
		Message string  `json:"message"`
		Index   *int    `json:"index"`
		Field   *string `json:"field"`
	}
	if err := json.Unmarshal(text, &form); err != nil {
		return &Error{code: "binding", message: fmt.Sprintf("unreadable error %q: %v", text, err), body: text}
	}
	return &Error{code: form.Code, message: form.Message, index: form.Index, field: form.Field, body: text}
}

func closedError() *Error {
	body := json.RawMessage(`{"code":"closed","message":"the handle was closed"}`)
	return &Error{code: "closed", message: "the handle was closed", body: body}
}

// buf is a Go byte slice as the C ABI's (ptr, len) pair. cgo lets C read Go
// memory that holds no Go pointer for the duration of the call.
func buf(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// call runs one C function and turns its status and text into Go values.
func call(f func(out **C.char) C.enum_FmStatus) (json.RawMessage, error) {
	var out *C.char
	status := f(&out)
	text := []byte(C.GoString(out))
	C.fm_string_free(out)
	if status != C.FM_STATUS_OK {
		return nil, errorOf(text)
	}
	return json.RawMessage(text), nil
}

// Version is the kernel library's version.
func Version() string { return C.GoString(C.fm_version()) }

// ReadJSON reads one JSON value under the value model (SPEC R4.4, R11.7)
// and returns its canonical text (R11.4).
func ReadJSON(text []byte) (json.RawMessage, error) {
	p, n := buf(text)
	return call(func(out **C.char) C.enum_FmStatus { return C.fm_read_json(p, n, out) })
}

// CompareValues is the total order of values (SPEC R4.4): -1, 0 or 1.
func CompareValues(a, b []byte) (int, error) {
	pa, na := buf(a)
	pb, nb := buf(b)
	text, err := call(func(out **C.char) C.enum_FmStatus { return C.fm_compare_values(pa, na, pb, nb, out) })
	if err != nil {
		return 0, err
	}
	var order int
	err = json.Unmarshal(text, &order)
	return order, err
}

// DeriveUpdatedAt is derive_updated_at of a stored row of the replaced
// system (SPEC R7.2): a timestamp's JSON text, or null.
func DeriveUpdatedAt(row []byte) (json.RawMessage, error) {
	p, n := buf(row)
	return call(func(out **C.char) C.enum_FmStatus { return C.fm_derive_updated_at(p, n, out) })
}

// PushReads is what a push reads from the server's storage (SPEC R13.3):
// {client_id, client_seqs, records}.
func PushReads(push []byte) (json.RawMessage, error) {
	p, n := buf(push)
	return call(func(out **C.char) C.enum_FmStatus { return C.fm_push_reads(p, n, out) })
}

// PlanPush plans a push over the server's storage (SPEC R13.3) from the
// configuration, the context read as PushReads said, the push and the
// server's time: {"accepted": plan} or {"refused": refusal}, to store in
// one transaction.
func PlanPush(config, context, push []byte, now string) (json.RawMessage, error) {
	pc, nc := buf(config)
	px, nx := buf(context)
	pp, np := buf(push)
	nowBytes := []byte(now)
	pn, nn := buf(nowBytes)
	return call(func(out **C.char) C.enum_FmStatus { return C.fm_plan_push(pc, nc, px, nx, pp, np, pn, nn, out) })
}
