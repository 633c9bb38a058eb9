package main

// The example server on a real Postgres: a cluster initialised in a
// temporary directory (stopped and removed at the end), the server as its
// own process, three clients pushing over HTTP on 127.0.0.1, and the server
// killed and restarted in the middle of the burst. Every acknowledged write
// must be in the log exactly once, the clients must converge with the
// server, and no conflict may be reported (each client writes its own
// records, so the spec's rules report none).

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fieldmerge.dev/fieldmerge"
)

const (
	clients         = 3
	writesPerClient = 30
	killAfterPushes = 30
)

// postgres runs the cluster's programs as the postgres user when the test
// runs as root (Postgres refuses root).
type postgres struct {
	bin, dir, port string
	asRoot         bool
}

func (p *postgres) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if p.asRoot {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (p *postgres) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := p.cmd(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func startPostgres(t *testing.T) string {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(bins) == 0 {
		t.Fatal("no Postgres under /usr/lib/postgresql (apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "fieldmerge-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &postgres{bin: bins[len(bins)-1], dir: dir, port: freePort(t), asRoot: os.Geteuid() == 0}
	if p.asRoot {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		os.Chown(dir, uid, gid)
	}
	data := filepath.Join(dir, "data")
	p.run(t, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync")
	p.run(t, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-o",
		fmt.Sprintf("-k %s -p %s -c listen_addresses='' -c fsync=off", dir, p.port), "start")
	t.Cleanup(func() {
		p.cmd("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(dir)
	})
	return fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", dir, p.port)
}

// life is the server process and its restarts: a client whose request
// failed waits for the next generation instead of sleeping.
type life struct {
	mu   sync.Mutex
	cond *sync.Cond
	gen  int
	proc *exec.Cmd
}

func (l *life) generation() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

func (l *life) waitNewer(gen int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.gen <= gen {
		l.cond.Wait()
	}
}

// start runs the server binary and returns once it listens.
func (l *life) start(t *testing.T, bin, dsn, addr string) {
	proc := exec.Command(bin, "-db", dsn, "-addr", addr)
	proc.Stderr = os.Stderr
	stdout, err := proc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on") {
		t.Fatalf("the server did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	l.mu.Lock()
	l.proc = proc
	l.gen++
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *life) kill() {
	l.mu.Lock()
	proc := l.proc
	l.mu.Unlock()
	proc.Process.Kill()
	proc.Wait()
}

func wallNow(aheadMs int64) string {
	return time.Now().UTC().Add(time.Duration(aheadMs) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

type client struct {
	lost      int // pushes that died with the killed server
	name      string
	aheadMs   int64 // a device clock a day ahead is corrected (R12.4)
	replica   *fieldmerge.Replica
	conflicts int
}

func (c *client) report(t *testing.T, report json.RawMessage) {
	var r struct{ Conflicts []json.RawMessage }
	if err := json.Unmarshal(report, &r); err != nil {
		t.Errorf("%s: report %s: %v", c.name, report, err)
	}
	c.conflicts += len(r.Conflicts)
}

// sync pushes the outbox once: acknowledged, refused and corrected, or lost
// with a killed server (then it waits for the restart and tries again).
func (c *client) sync(t *testing.T, l *life, base string, pushes *int32, mu *sync.Mutex, killAt chan struct{}) bool {
	for {
		gen := l.generation()
		push, err := c.replica.Push()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		*pushes++
		if *pushes == killAfterPushes {
			close(killAt)
		}
		mu.Unlock()
		resp, err := http.Post(base+"/push", "application/json", bytes.NewReader(push))
		if err != nil {
			c.lost++
			l.waitNewer(gen)
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			c.lost++
			l.waitNewer(gen)
			continue
		}
		switch resp.StatusCode {
		case http.StatusOK:
			report, err := c.replica.ReceiveReply(body)
			if err != nil {
				t.Errorf("%s: reply: %v", c.name, err)
				return false
			}
			c.report(t, report)
			return true
		case http.StatusConflict:
			if err := c.replica.ReceiveRefusal(body, wallNow(c.aheadMs)); err != nil {
				t.Errorf("%s: refusal: %v", c.name, err)
				return false
			}
		default:
			t.Errorf("%s: status %d: %s", c.name, resp.StatusCode, body)
			return false
		}
	}
}

func (c *client) pullToHead(t *testing.T, base string) {
	for {
		state, _ := c.replica.State()
		var s struct{ Cursor int64 }
		json.Unmarshal(state, &s)
		resp, err := http.Post(base+"/pull", "application/json", strings.NewReader(fmt.Sprintf(`{"cursor": %d}`, s.Cursor)))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		report, err := c.replica.ApplyPage(page)
		if err != nil {
			t.Fatalf("%s: page: %v", c.name, err)
		}
		c.report(t, report)
		var p struct {
			After, Head int64
			Changes     []json.RawMessage
		}
		json.Unmarshal(page, &p)
		if p.After+int64(len(p.Changes)) >= p.Head {
			return
		}
	}
}

func TestServerOnPostgresSurvivesARestartMidBurst(t *testing.T) {
	dsn := startPostgres(t)
	work := t.TempDir()
	bin := filepath.Join(work, "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := "127.0.0.1:" + freePort(t)
	base := "http://" + addr
	l := &life{}
	l.cond = sync.NewCond(&l.mu)
	l.start(t, bin, dsn, addr)
	t.Cleanup(l.kill)

	var (
		pushes int32
		mu     sync.Mutex
		killAt = make(chan struct{})
		all    []*client
		wg     sync.WaitGroup
	)
	for i := 0; i < clients; i++ {
		r, err := fieldmerge.NewReplica(fmt.Sprintf("device-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		c := &client{name: fmt.Sprintf("device-%d", i), replica: r}
		if i == 2 {
			c.aheadMs = 24 * 3600 * 1000
		}
		all = append(all, c)
	}
	for _, c := range all {
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			for w := 0; w < writesPerClient; w++ {
				args := fmt.Sprintf(`{"table": "notes", "id": "%s-%d", "actor": {"kind": "user"},
					"patch": {"text": "note %d", "n": %d.0}, "now": %q}`, c.name, w, w, w, wallNow(c.aheadMs))
				change, err := c.replica.Write(json.RawMessage(args))
				if err != nil || string(change) == "null" {
					t.Errorf("%s: write %d: %s %v", c.name, w, change, err)
					return
				}
				if !c.sync(t, l, base, &pushes, &mu, killAt) {
					return
				}
			}
		}(c)
	}
	// Mid-burst: kill the server (no clean shutdown) and start it again.
	<-killAt
	l.kill()
	l.start(t, bin, dsn, addr)
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, c := range all {
		for {
			state, _ := c.replica.State()
			var s struct{ Outbox []json.RawMessage }
			json.Unmarshal(state, &s)
			if len(s.Outbox) == 0 {
				break
			}
			if !c.sync(t, l, base, new(int32), &mu, make(chan struct{})) {
				return
			}
		}
		c.pullToHead(t, base)
	}

	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Every acknowledged write exactly once: each client's 30 writes, each
	// under its own client_seq, and nothing twice.
	rows, err := db.Query(`SELECT client_id, count(*), count(DISTINCT client_seq), min(client_seq), max(client_seq) FROM log GROUP BY client_id ORDER BY client_id`)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for rows.Next() {
		var id string
		var n, distinct, lo, hi int
		rows.Scan(&id, &n, &distinct, &lo, &hi)
		if n != writesPerClient || distinct != writesPerClient || lo != 1 || hi != writesPerClient {
			t.Errorf("%s: %d changes, %d distinct, seq %d..%d; want %d once each", id, n, distinct, lo, hi, writesPerClient)
		}
		seen++
	}
	rows.Close()
	if seen != clients {
		t.Errorf("the log holds changes of %d clients, want %d", seen, clients)
	}
	// The clients converge with the server's records.
	server := map[string]string{}
	recs, err := db.Query(`SELECT tbl, id, record FROM records`)
	if err != nil {
		t.Fatal(err)
	}
	for recs.Next() {
		var tbl, id, record string
		recs.Scan(&tbl, &id, &record)
		var r struct{ Fields json.RawMessage }
		json.Unmarshal([]byte(record), &r)
		server[tbl+"/"+id] = string(r.Fields)
	}
	recs.Close()
	if len(server) != clients*writesPerClient {
		t.Errorf("the server holds %d records, want %d", len(server), clients*writesPerClient)
	}
	for _, c := range all {
		state, _ := c.replica.State()
		var s struct {
			Records []struct {
				Table, ID string
				Fields    json.RawMessage
			}
		}
		json.Unmarshal(state, &s)
		if len(s.Records) != len(server) {
			t.Errorf("%s holds %d records, the server %d", c.name, len(s.Records), len(server))
		}
		for _, r := range s.Records {
			if server[r.Table+"/"+r.ID] != string(r.Fields) {
				t.Errorf("%s: %s/%s differs:\n%s\n%s", c.name, r.Table, r.ID, r.Fields, server[r.Table+"/"+r.ID])
			}
		}
		if c.conflicts != 0 {
			t.Errorf("%s: %d conflicts reported, the rules report none", c.name, c.conflicts)
		}
	}
	lost := 0
	for _, c := range all {
		lost += c.lost
	}
	t.Logf("%d pushes, %d of them lost with the killed server and retried from the outbox", pushes, lost)
}
