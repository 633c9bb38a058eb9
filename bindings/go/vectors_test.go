package fieldmerge

// A conformance-vector runner written in Go from spec/vectors/README.md
// alone: every vector of spec/vectors runs through the binding. Values stay
// json.RawMessage on their way in; expected and actual values are compared
// as the README says, by value (numbers as float64).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

type raw = json.RawMessage

// The members each op may have besides op and expect (README, "Steps").
var stepMembers = map[string][]string{
	"write":            {"replica", "table", "id", "kind", "scope", "actor", "patch", "now", "ext"},
	"delete":           {"replica", "table", "id", "kind", "scope", "actor", "now", "ext"},
	"restore":          {"replica", "table", "id", "kind", "scope", "actor", "now", "ext"},
	"bootstrap":        {"replica", "table", "id", "kind", "scope", "fields"},
	"apply":            {"replica", "changes", "delivery"},
	"page":             {"replica", "after", "changes", "head", "log"},
	"ack":              {"replica", "through"},
	"merge":            {"replica", "from", "state"},
	"push":             {"replica", "now"},
	"receive_reply":    {"replica", "acked_through", "after", "changes", "head"},
	"push_raw":         {"client_id", "changes", "cursor", "clock_epoch", "now"},
	"pull":             {"replica", "limit"},
	"server_write":     {"writer", "actor", "table", "id", "kind", "scope", "patch", "now", "ext"},
	"server_bootstrap": {"table", "id", "kind", "scope", "fields"},
	"reset_cursor":     {"replica"},
	"restart_server":   {},
	"correct_clock":    {"replica", "server_now", "clock_epoch", "log_high", "now"},
	"load":             {"replica", "state"},
	"derive_row":       {"row"},
	"compare_values":   {"a", "b"},
	"read_json":        {"text"},
	"check":            {"replica"},
}

var replicaViews = []string{"records", "derive_updated_at", "deleted", "outbox", "next_seq", "cursor", "hydrating", "clock"}
var serverViews = []string{"server_records", "server_log", "server_head"}
var outputs = []string{"change", "changed", "message", "reply", "conflicts", "anomalies", "hidden_edits", "quarantined", "tally",
	"acked_through", "appended", "derived", "order", "canonical"}
var tallyNames = []string{"inserted", "duplicate", "stale", "twin", "overwrite_not_user", "overwrite_same_value",
	"overwrite_witnessed", "overwrite_legacy_hydration", "conflict_unwitnessed", "conflict_legacy"}

type engine struct {
	config   raw
	skew     int64
	pageMax  int64
	server   *Server
	replicas map[string]*Replica
}

func (e *engine) close() {
	e.server.Close()
	for _, r := range e.replicas {
		r.Close()
	}
}

// obj builds a JSON object from members, raw values copied as they are.
func obj(members map[string]raw) raw {
	text, err := json.Marshal(members)
	if err != nil {
		panic(err)
	}
	return text
}

func str(s string) raw {
	text, _ := json.Marshal(s)
	return text
}

func asString(v raw) (string, error) {
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

// expand replaces every {"$nested_array": N} by N nested arrays (README,
// "Deep values"); numbers keep their text (json.Number).
func expand(v raw) (raw, error) {
	if !bytes.Contains(v, []byte(`"$nested_array"`)) {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var tree interface{}
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	var walk func(interface{}) interface{}
	walk = func(x interface{}) interface{} {
		switch t := x.(type) {
		case map[string]interface{}:
			if n, ok := t["$nested_array"]; ok && len(t) == 1 {
				count, _ := n.(json.Number).Int64()
				var inner interface{} = []interface{}{}
				for i := int64(1); i < count; i++ {
					inner = []interface{}{inner}
				}
				return inner
			}
			for k, c := range t {
				t[k] = walk(c)
			}
		case []interface{}:
			for i, c := range t {
				t[i] = walk(c)
			}
		}
		return x
	}
	return json.Marshal(walk(tree))
}

// batch is a step's changes as text: raw text when a string, else the array.
func batch(changes raw) (raw, error) {
	if s, err := asString(changes); err == nil {
		return raw(s), nil
	}
	return expand(changes)
}

func (e *engine) replica(step map[string]raw) (*Replica, string, error) {
	name := ""
	if v, ok := step["replica"]; ok {
		name, _ = asString(v)
	} else if len(e.replicas) == 1 {
		for n := range e.replicas {
			name = n
		}
	}
	r, ok := e.replicas[name]
	if !ok {
		return nil, name, fmt.Errorf("no replica %q", name)
	}
	return r, name, nil
}

func pick(step map[string]raw, names ...string) map[string]raw {
	m := map[string]raw{}
	for _, n := range names {
		if v, ok := step[n]; ok {
			m[n] = v
		}
	}
	return m
}

func reportOutputs(out map[string]raw, report raw) {
	var m map[string]raw
	if json.Unmarshal(report, &m) == nil {
		for k, v := range m {
			out[k] = v
		}
	}
}

// run executes one step: its outputs, or the kernel's *Error.
func (e *engine) run(op string, step map[string]raw) (map[string]raw, error) {
	out := map[string]raw{}
	var err error
	var text raw
	switch op {
	case "write", "delete", "restore", "bootstrap":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		args := pick(step, "table", "id", "kind", "scope", "actor", "now", "ext")
		for _, name := range []string{"patch", "fields"} {
			if v, ok := step[name]; ok {
				if args[name], err = expand(v); err != nil {
					return nil, err
				}
			}
		}
		f := map[string]func(raw) (raw, error){"write": r.Write, "delete": r.Delete, "restore": r.Restore, "bootstrap": r.Bootstrap}[op]
		if text, err = f(obj(args)); err == nil {
			out["change"] = text
		}
	case "apply":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		changes, berr := batch(step["changes"])
		if berr != nil {
			return nil, berr
		}
		delivery, _ := asString(step["delivery"])
		if text, err = r.Apply(changes, delivery == "hydration"); err == nil {
			reportOutputs(out, text)
		}
	case "page", "receive_reply":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		changes, berr := batch(step["changes"])
		if berr != nil {
			return nil, berr
		}
		log := ""
		if l, ok := step["log"]; ok {
			// R12.7: the page names its log.
			log = `,"log":` + string(l)
		}
		page := raw(fmt.Sprintf(`{"after":%s,"changes":%s,"head":%s%s}`, step["after"], changes, step["head"], log))
		if op == "page" {
			text, err = r.ApplyPage(page)
		} else {
			report := `{"conflicts":[],"anomalies":[],"hidden_edits":[],"changed":[],"tally":{`
			for i, n := range tallyNames {
				if i > 0 {
					report += ","
				}
				report += `"` + n + `":0`
			}
			report += "}}"
			reply := fmt.Sprintf(`{"acked_through":%s,"appended":0,"page":%s,"report":%s}`, step["acked_through"], page, report)
			text, err = r.ReceiveReply(raw(reply))
		}
		if err == nil {
			reportOutputs(out, text)
		}
	case "ack":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		err = r.Ack(step["through"])
	case "merge":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		state := step["state"]
		if from, ok := step["from"]; ok {
			name, _ := asString(from)
			other, found := e.replicas[name]
			if !found {
				return nil, fmt.Errorf("no replica %q", name)
			}
			if state, err = other.State(); err != nil {
				return nil, err
			}
		}
		if text, err = r.Merge(state); err == nil {
			reportOutputs(out, text)
		}
	case "push":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		now, _ := asString(step["now"])
		push, perr := r.Push()
		if perr != nil {
			return nil, perr
		}
		reply, perr := e.server.Push(push, now)
		if perr != nil {
			return nil, perr
		}
		if text, err = r.ReceiveReply(reply); err == nil {
			var m map[string]raw
			json.Unmarshal(reply, &m)
			out["acked_through"], out["appended"], out["message"], out["reply"] = m["acked_through"], m["appended"], push, reply
			reportOutputs(out, text)
		}
	case "push_raw":
		changes, berr := batch(step["changes"])
		if berr != nil {
			return nil, berr
		}
		members := map[string]raw{"client_id": step["client_id"], "changes": changes}
		for _, n := range []string{"cursor", "clock_epoch"} {
			if v, ok := step[n]; ok {
				members[n] = v
			}
		}
		now, _ := asString(step["now"])
		if text, err = e.server.Push(obj(members), now); err == nil {
			var m map[string]raw
			json.Unmarshal(text, &m)
			out["acked_through"], out["appended"] = m["acked_through"], m["appended"]
			reportOutputs(out, m["report"])
		}
	case "pull":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		state, serr := r.State()
		if serr != nil {
			return nil, serr
		}
		var s struct{ Cursor *uint64 }
		json.Unmarshal(state, &s)
		cursor := uint64(0)
		if s.Cursor != nil {
			cursor = *s.Cursor
		}
		limit := raw(fmt.Sprint(e.pageMax))
		if v, ok := step["limit"]; ok {
			limit = v
		}
		page, perr := e.server.Pull(raw(fmt.Sprintf(`{"cursor":%d,"limit":%s}`, cursor, limit)))
		if perr != nil {
			return nil, perr
		}
		if text, err = r.ApplyPage(page); err == nil {
			reportOutputs(out, text)
		}
	case "server_write", "server_bootstrap":
		args := pick(step, "writer", "actor", "table", "id", "kind", "scope", "now", "ext")
		for _, name := range []string{"patch", "fields"} {
			if v, ok := step[name]; ok {
				if args[name], err = expand(v); err != nil {
					return nil, err
				}
			}
		}
		if op == "server_write" {
			text, err = e.server.Write(obj(args))
		} else {
			text, err = e.server.Bootstrap(obj(args))
		}
		if err == nil {
			out["change"] = text
		}
	case "reset_cursor":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		err = r.ResetCursor()
	case "restart_server":
		log, lerr := e.server.Log()
		if lerr != nil {
			return nil, lerr
		}
		clients, cerr := e.server.Clients()
		if cerr != nil {
			return nil, cerr
		}
		restarted, serr := ServerFromLog(e.config, log, clients)
		if serr != nil {
			return nil, serr
		}
		e.server.Close()
		e.server = restarted
	case "correct_clock":
		r, _, rerr := e.replica(step)
		if rerr != nil {
			return nil, rerr
		}
		epoch, ok := step["clock_epoch"]
		if !ok {
			state, serr := r.State()
			if serr != nil {
				return nil, serr
			}
			var s struct{ Clock struct{ Epoch uint64 } }
			json.Unmarshal(state, &s)
			epoch = raw(fmt.Sprint(s.Clock.Epoch + 1))
		}
		logHigh, ok := step["log_high"]
		if !ok {
			log, lerr := e.server.Log()
			if lerr != nil {
				return nil, lerr
			}
			logHigh = highStamp(log)
		}
		err = r.CorrectClock(obj(map[string]raw{"server_now": step["server_now"], "now": step["now"],
			"clock_epoch": epoch, "skew_ms_max": raw(fmt.Sprint(e.skew)), "log_high": logHigh}))
	case "load":
		name, _ := asString(step["replica"])
		state, xerr := expand(step["state"])
		if xerr != nil {
			return nil, xerr
		}
		loaded, lerr := LoadReplica(state)
		if lerr != nil {
			return nil, lerr
		}
		if old, ok := e.replicas[name]; ok {
			old.Close()
		}
		e.replicas[name] = loaded
	case "derive_row":
		if text, err = DeriveUpdatedAt(step["row"]); err == nil {
			out["derived"] = text
		}
	case "compare_values":
		var order int
		if order, err = CompareValues(step["a"], step["b"]); err == nil {
			out["order"] = raw(fmt.Sprint(order))
		}
	case "read_json":
		source, _ := asString(step["text"])
		if text, err = ReadJSON([]byte(source)); err == nil {
			out["canonical"] = str(string(text))
		}
	case "check":
	default:
		return nil, fmt.Errorf("unknown op %q", op)
	}
	return out, err
}

// view is what a replica or the server shows, by expectation name.
func (e *engine) view(r *Replica, what string) (raw, error) {
	switch what {
	case "server_records":
		return e.server.Records()
	case "server_log":
		return e.server.Log()
	case "server_head":
		log, err := e.server.Log()
		var changes []struct {
			ServerSeq uint64 `json:"server_seq"`
		}
		json.Unmarshal(log, &changes)
		head := uint64(0)
		if n := len(changes); n > 0 {
			head = changes[n-1].ServerSeq
		}
		return raw(fmt.Sprint(head)), err
	}
	if r == nil {
		return nil, fmt.Errorf("expect.%s needs a replica", what)
	}
	state, err := r.State()
	if err != nil {
		return nil, err
	}
	var s map[string]raw
	json.Unmarshal(state, &s)
	switch what {
	case "derive_updated_at", "deleted":
		var records []struct {
			Table  string `json:"table"`
			ID     string `json:"id"`
			Fields map[string]struct {
				Value raw    `json:"value"`
				At    string `json:"at"`
			} `json:"fields"`
		}
		json.Unmarshal(s["records"], &records)
		var list []map[string]interface{}
		for _, rec := range records {
			entry := map[string]interface{}{"table": rec.Table, "id": rec.ID}
			if what == "deleted" {
				tomb, ok := rec.Fields["deletedAt"]
				entry["deleted"] = ok && string(tomb.Value) != "null"
			} else {
				var at interface{}
				for _, f := range rec.Fields {
					if at == nil || f.At > at.(string) {
						at = f.At
					}
				}
				entry["at"] = at
			}
			list = append(list, entry)
		}
		if list == nil {
			list = []map[string]interface{}{}
		}
		return json.Marshal(list)
	case "clock":
		var c map[string]raw
		json.Unmarshal(s["clock"], &c)
		if e, ok := c["epoch"]; ok && string(e) == "0" {
			delete(c, "epoch")
		}
		return obj(c), nil
	}
	v, ok := s[what]
	if !ok {
		return raw("null"), nil
	}
	return v, nil
}

// same compares two JSON texts by value (README, "Comparison").
func same(a, b raw) bool {
	var x, y interface{}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func tally(v raw) raw {
	counts := map[string]float64{}
	json.Unmarshal(v, &counts)
	full := map[string]float64{}
	for _, n := range tallyNames {
		full[n] = counts[n]
	}
	text, _ := json.Marshal(full)
	return text
}

func errorMatches(want raw, got *Error) (bool, error) {
	if code, err := asString(want); err == nil {
		return code == got.Code(), nil
	}
	var w map[string]raw
	if err := json.Unmarshal(want, &w); err != nil {
		return false, fmt.Errorf("expect.error must be a code or {code, index?, field?}")
	}
	ok := true
	for k, v := range w {
		switch k {
		case "code":
			code, _ := asString(v)
			ok = ok && code == got.Code()
		case "index":
			i, has := got.Index()
			ok = ok && has && string(v) == fmt.Sprint(i)
		case "field":
			f, has := got.Field()
			want, _ := asString(v)
			ok = ok && has && f == want
		default:
			return false, fmt.Errorf("unknown member expect.error.%s", k)
		}
	}
	return ok, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runVector runs one file; it returns every mismatch, or an error for a
// file that is not a valid vector.
// skipReason says why the binding cannot run a vector, or "": a vector
// with an import step needs the importer of SPEC R14, a tool of the Rust
// CLI that the binding does not have (README, import: skipped, never
// passed).
func skipReason(path string) string {
	text, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var vector struct {
		Steps []struct {
			Op string `json:"op"`
		} `json:"steps"`
	}
	if json.Unmarshal(text, &vector) != nil {
		return ""
	}
	for _, step := range vector.Steps {
		if step.Op == "import" {
			return "the importer (R14) is not part of the binding"
		}
	}
	return ""
}

func runVector(path string) ([]string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top map[string]raw
	if err := json.Unmarshal(text, &top); err != nil {
		return nil, err
	}
	for k := range top {
		if !contains([]string{"description", "rules", "server", "replicas", "steps"}, k) {
			return nil, fmt.Errorf("unknown member %s", k)
		}
	}
	e := &engine{skew: 60000, pageMax: 1000, replicas: map[string]*Replica{}}
	logName := ""
	if s, ok := top["server"]; ok {
		var setup map[string]raw
		if err := json.Unmarshal(s, &setup); err != nil {
			return nil, err
		}
		for k, v := range setup {
			var err error
			switch k {
			case "skew_ms_max":
				err = json.Unmarshal(v, &e.skew)
			case "page_size_max":
				err = json.Unmarshal(v, &e.pageMax)
			case "log":
				// R12.7: a named log names every page.
				logName = `,"log":` + string(v)
			default:
				return nil, fmt.Errorf("unknown member server.%s", k)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	e.config = raw(fmt.Sprintf(`{"skew_ms_max":%d,"page_size_max":%d%s}`, e.skew, e.pageMax, logName))
	if e.server, err = NewServer(e.config); err != nil {
		return nil, err
	}
	defer e.close()
	var replicas map[string]raw
	json.Unmarshal(top["replicas"], &replicas)
	for name, state := range replicas {
		if e.replicas[name], err = LoadReplica(state); err != nil {
			return nil, fmt.Errorf("replica %s: %v", name, err)
		}
	}
	var steps []map[string]raw
	if err := json.Unmarshal(top["steps"], &steps); err != nil {
		return nil, err
	}
	var fails []string
	for i, step := range steps {
		op, _ := asString(step["op"])
		allowed, known := stepMembers[op]
		if !known {
			return nil, fmt.Errorf("step %d: unknown op %q", i, op)
		}
		for k := range step {
			if k != "op" && k != "expect" && !contains(allowed, k) {
				return nil, fmt.Errorf("step %d: unknown member %s", i, k)
			}
		}
		var expect map[string]raw
		if v, ok := step["expect"]; ok {
			json.Unmarshal(v, &expect)
		}
		out, runErr := e.run(op, step)
		var kernelErr *Error
		if runErr != nil {
			ke, ok := runErr.(*Error)
			if !ok {
				return nil, fmt.Errorf("step %d (%s): %v", i, op, runErr)
			}
			kernelErr = ke
		}
		fail := func(what string, want, got interface{}) {
			fails = append(fails, fmt.Sprintf("step %d (%s): %s\n    expected: %s\n    actual:   %s", i, op, what, want, got))
		}
		want, wantsError := expect["error"]
		if wantsError && string(want) == "null" {
			wantsError = false
		}
		switch {
		case !wantsError && kernelErr != nil:
			fail("error", "none", kernelErr.Body())
			continue
		case wantsError && kernelErr == nil:
			fail("error", want, "none")
		case wantsError:
			ok, merr := errorMatches(want, kernelErr)
			if merr != nil {
				return nil, fmt.Errorf("step %d: %v", i, merr)
			}
			if !ok {
				fail("error", want, kernelErr.Body())
			}
		}
		target, _, _ := e.replica(step)
		if name, ok := expect["replica"]; ok {
			n, _ := asString(name)
			target = e.replicas[n]
		}
		keys := make([]string, 0, len(expect))
		for k := range expect {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, what := range keys {
			if what == "error" || what == "replica" {
				continue
			}
			wantValue := expect[what]
			var got raw
			switch {
			case contains(replicaViews, what) || contains(serverViews, what):
				if got, err = e.view(target, what); err != nil {
					return nil, fmt.Errorf("step %d: %v", i, err)
				}
			case contains(outputs, what):
				got = out[what]
				if got == nil {
					switch what {
					case "conflicts", "anomalies", "hidden_edits", "quarantined":
						got = raw("[]")
					default:
						got = raw("null")
					}
				}
			default:
				return nil, fmt.Errorf("step %d: unknown expectation %s", i, what)
			}
			if what == "tally" {
				wantValue, got = tally(wantValue), tally(got)
			}
			if what == "quarantined" {
				got = withoutMessages(got)
			}
			if !same(wantValue, got) {
				fail(what, wantValue, got)
			}
		}
	}
	return fails, nil
}

// withoutMessages drops the message of each quarantined entry's error:
// messages are never compared (README, "expect").
func withoutMessages(quarantined raw) raw {
	var items []map[string]raw
	if json.Unmarshal(quarantined, &items) != nil {
		return quarantined
	}
	for _, item := range items {
		var e map[string]raw
		if json.Unmarshal(item["error"], &e) == nil {
			delete(e, "message")
			item["error"], _ = json.Marshal(e)
		}
	}
	out, err := json.Marshal(items)
	if err != nil {
		return quarantined
	}
	return out
}

func vectorFiles(t *testing.T) []string {
	var files []string
	err := filepath.Walk("../../spec/vectors", func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	sort.Strings(files)
	return files
}

// TestVectors runs every vector of spec/vectors through the binding.
func TestVectors(t *testing.T) {
	for _, path := range vectorFiles(t) {
		path := path
		t.Run(strings.TrimPrefix(path, "../../spec/vectors/"), func(t *testing.T) {
			if reason := skipReason(path); reason != "" {
				t.Skip(reason)
			}
			fails, err := runVector(path)
			if err != nil {
				t.Fatalf("invalid vector: %v", err)
			}
			for _, f := range fails {
				t.Error(f)
			}
		})
	}
}

// highStamp is the log's high stamp (R12.3): the greatest `at` of its
// changes, the genesis for an empty log. Stamps are 24-byte UTC spellings
// (R2.1), so their text order is their time order.
func highStamp(log json.RawMessage) raw {
	var changes []struct {
		FieldMeta map[string]struct{ At string } `json:"field_meta"`
	}
	json.Unmarshal(log, &changes)
	high := "1970-01-01T00:00:00.000Z"
	for _, c := range changes {
		for _, m := range c.FieldMeta {
			if len(m.At) == len(high) && m.At > high {
				high = m.At
			}
		}
	}
	return raw(`"` + high + `"`)
}
