package fieldmerge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

const config = `{"skew_ms_max": 60000, "page_size_max": 100}`

func write(id, patch, now string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"table": "tasks", "id": %q, "actor": {"kind": "user"}, "patch": %s, "now": %q}`, id, patch, now))
}

// code is the kernel code of err, or "" when err is not an *Error.
func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return ""
}

func check(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Errorf("%s: code %q (%v), want %q", what, got, err, want)
	}
}

func TestHostileInputGetsTypedErrors(t *testing.T) {
	r, err := NewReplica("phone")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Write(json.RawMessage(`{"table": "tasks"`))
	check(t, "malformed JSON", err, "json")
	_, err = r.Write(json.RawMessage(`[1, 2]`))
	check(t, "wrong type", err, "wrong_type")
	_, err = r.Write(write("t1", `{"n": 9007199254740993}`, "2026-04-26T10:00:00.000Z"))
	check(t, "a number that would round", err, "bad_number")
	_, err = r.Write(write("t1", `{"n": 1, "n": 2}`, "2026-04-26T10:00:00.000Z"))
	check(t, "a member twice", err, "duplicate_member")
	_, err = r.Write(write(strings.Repeat("x", 1<<20), `{"n": 1}`, "2026-04-26T10:00:00.000Z"))
	check(t, "a 1 MB id", err, "bad_name")
	_, err = r.Write(json.RawMessage("{\"table\": \"t\xff\"}"))
	check(t, "invalid UTF-8", err, "json")
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	_, err = r.Write(write("t1", `{"n": `+deep+`}`, "2026-04-26T10:00:00.000Z"))
	check(t, "100,000 levels", err, "too_deep")
	_, err = r.Write(json.RawMessage("{\"table\": \"t\u0000\"}"))
	check(t, "a NUL byte in a name", err, "json")
	_, err = NewReplica("")
	check(t, "an empty client id", err, "bad_name")
	_, err = LoadReplica(json.RawMessage(`{"client_id": "a", "client_id": "b"}`))
	check(t, "a state with a member twice", err, "state_json")
	_, err = NewServer(json.RawMessage(`{"skew_ms_max": -5, "page_size_max": 1}`))
	check(t, "a bad config", err, "wrong_type")
	// Nothing changed through any of it.
	state, _ := r.State()
	if !strings.Contains(string(state), `"records":[]`) {
		t.Errorf("a refused call changed the replica: %s", state)
	}
	var e *Error
	_, err = r.Write(write("", `{"n": 1}`, "2026-04-26T10:00:00.000Z"))
	if !errors.As(err, &e) || e.Code() != "bad_name" || !strings.Contains(string(e.Body()), `"code":"bad_name"`) {
		t.Errorf("error body: %v", err)
	}
}

func TestClosedHandlesAreRefused(t *testing.T) {
	r, _ := NewReplica("phone")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	check(t, "a second close", r.Close(), "closed")
	_, err := r.Push()
	check(t, "a call after close", err, "closed")
	s, _ := NewServer(json.RawMessage(config))
	s.Close()
	_, err = s.Log()
	check(t, "a server call after close", err, "closed")
}

func TestSyncRoundWithAClockCorrection(t *testing.T) {
	server, err := NewServer(json.RawMessage(config))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	phone, _ := NewReplica("phone")
	defer phone.Close()
	laptop, _ := NewReplica("laptop")
	defer laptop.Close()
	// The laptop's clock is a day ahead: refused, corrected, accepted.
	if _, err := laptop.Write(write("t1", `{"title": "Milk", "price": 1.0}`, "2026-04-27T10:00:00.000Z")); err != nil {
		t.Fatal(err)
	}
	push, _ := laptop.Push()
	_, err = server.Push(push, "2026-04-26T10:00:00.000Z")
	check(t, "a push from a day ahead", err, "clock_ahead")
	var refusal *Error
	errors.As(err, &refusal)
	if err := laptop.ReceiveRefusal(refusal.Body(), "2026-04-27T10:00:01.000Z"); err != nil {
		t.Fatal(err)
	}
	push, _ = laptop.Push()
	reply, err := server.Push(push, "2026-04-26T10:00:02.000Z")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.ReceiveReply(reply); err != nil {
		t.Fatal(err)
	}
	page, _ := server.Pull(json.RawMessage(`{"cursor": 0}`))
	if _, err := phone.ApplyPage(page); err != nil {
		t.Fatal(err)
	}
	records, _ := server.Records()
	state, _ := phone.State()
	// Restamped at the server's time (R12.4); 1.0 is the value 1, canonical.
	if !strings.Contains(string(records), `"price":{"at":"2026-04-26T10:00:00.000Z"`) ||
		!strings.Contains(string(state), `"value":1}`) {
		t.Errorf("records %s\nstate %s", records, state)
	}
}

func TestServerStorageBoundary(t *testing.T) {
	phone, _ := NewReplica("phone")
	defer phone.Close()
	phone.Write(write("t1", `{"title": "a"}`, "2026-04-26T10:00:00.000Z"))
	push, _ := phone.Push()
	reads, err := PushReads(push)
	if err != nil || !strings.Contains(string(reads), `"records":[{"id":"t1","table":"tasks"}]`) {
		t.Fatalf("reads %s, %v", reads, err)
	}
	context := json.RawMessage(`{"log": {"head": 0, "high": "1970-01-01T00:00:00.000Z"}, "absent": [{"table": "tasks", "id": "t1"}]}`)
	outcome, err := PlanPush(json.RawMessage(config), context, push, "2026-04-26T10:00:01.000Z")
	if err != nil || !strings.HasPrefix(string(outcome), `{"accepted":`) {
		t.Fatalf("outcome %s, %v", outcome, err)
	}
	_, err = PlanPush(json.RawMessage(config), json.RawMessage(`{"log": {"head": 0, "high": "1970-01-01T00:00:00.000Z"}}`), push, "2026-04-26T10:00:01.000Z")
	check(t, "a context without the record", err, "not_read")
}

func TestHandlesAreSafeAcrossGoroutines(t *testing.T) {
	server, _ := NewServer(json.RawMessage(config))
	defer server.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r, err := NewReplica(fmt.Sprintf("client-%d", g))
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			for i := 0; i < 20; i++ {
				now := fmt.Sprintf("2026-04-26T10:00:%02d.000Z", i)
				if _, err := r.Write(write(fmt.Sprintf("t%d-%d", g, i), `{"n": 1}`, now)); err != nil {
					t.Error(err)
					return
				}
				push, _ := r.Push()
				reply, err := server.Push(push, now)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := r.ReceiveReply(reply); err != nil && code(err) != "not_at_cursor" {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	log, _ := server.Log()
	var changes []json.RawMessage
	json.Unmarshal(log, &changes)
	if len(changes) != 160 {
		t.Errorf("the log holds %d changes, want 160", len(changes))
	}
}

func TestValues(t *testing.T) {
	text, err := ReadJSON([]byte(`{"b": 1e21, "a": -0.0}`))
	if err != nil || string(text) != `{"a":0,"b":1e+21}` {
		t.Errorf("%s %v", text, err)
	}
	if order, err := CompareValues([]byte(`1`), []byte(`1.0`)); order != 0 || err != nil {
		t.Errorf("1 vs 1.0: %d %v", order, err)
	}
	if at, err := DeriveUpdatedAt([]byte(`{"updatedAt": "2026-04-26T10:00:00.000Z"}`)); err != nil || string(at) != `"2026-04-26T10:00:00.000Z"` {
		t.Errorf("%s %v", at, err)
	}
	if Version() == "" {
		t.Error("no version")
	}
}
