// Command server is a fieldmerge sync server whose log and records live in
// Postgres. The kernel decides, Go stores: each push is one database
// transaction through the kernel's storage boundary (spec/PROTOCOL.md):
// read what fieldmerge.PushReads names, plan with fieldmerge.PlanPush,
// store the plan. Pulls are served from the log table. The process may be
// killed at any point: a push either committed whole or not at all, and a
// client retries what it did not see acknowledged.
//
// Usage: server -db 'host=/tmp/x port=5432 user=postgres dbname=postgres sslmode=disable' -addr 127.0.0.1:8080
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"fieldmerge.dev/fieldmerge"
	"github.com/lib/pq"
)

const config = `{"skew_ms_max": 60000, "page_size_max": 1000}`

const schema = `
CREATE TABLE IF NOT EXISTS log (
	server_seq bigint PRIMARY KEY,
	client_id text NOT NULL,
	client_seq bigint,
	change text NOT NULL -- the canonical wire change, byte for byte
);
CREATE INDEX IF NOT EXISTS log_client ON log (client_id, client_seq);
CREATE TABLE IF NOT EXISTS records (
	tbl text NOT NULL,
	id text NOT NULL,
	record text NOT NULL,
	PRIMARY KEY (tbl, id)
);
CREATE TABLE IF NOT EXISTS clients (
	client_id text PRIMARY KEY,
	last_seq bigint NOT NULL,
	clock_epoch bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS head (
	one int PRIMARY KEY CHECK (one = 1),
	head bigint NOT NULL,
	high text NOT NULL
);
INSERT INTO head VALUES (1, 0, '1970-01-01T00:00:00.000Z') ON CONFLICT DO NOTHING;
`

type server struct{ db *sql.DB }

type key struct {
	Table string `json:"table"`
	ID    string `json:"id"`
}

// now is the server's wall clock in the wire spelling (SPEC R2.1); the
// kernel never reads a clock, the caller does.
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// push handles one push in one transaction (PROTOCOL.md): the head row is
// locked first, so pushes are serialized and server_seq has no gaps.
func (s *server) push(push []byte, at string) (json.RawMessage, error) {
	readsText, err := fieldmerge.PushReads(push)
	if err != nil {
		return nil, err
	}
	var reads struct {
		ClientID   string  `json:"client_id"`
		ClientSeqs []int64 `json:"client_seqs"`
		Records    []key   `json:"records"`
	}
	if err := json.Unmarshal(readsText, &reads); err != nil {
		return nil, err
	}
	tx, err := s.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var head int64
	var high string
	if err := tx.QueryRow(`SELECT head, high FROM head WHERE one = 1 FOR UPDATE`).Scan(&head, &high); err != nil {
		return nil, err
	}
	client := map[string]int64{"last_seq": 0, "clock_epoch": 0}
	var lastSeq, epoch int64
	switch err := tx.QueryRow(`SELECT last_seq, clock_epoch FROM clients WHERE client_id = $1`, reads.ClientID).Scan(&lastSeq, &epoch); {
	case err == nil:
		client["last_seq"], client["clock_epoch"] = lastSeq, epoch
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	logged := []json.RawMessage{}
	rows, err := tx.Query(`SELECT change FROM log WHERE client_id = $1 AND client_seq = ANY($2) ORDER BY server_seq`,
		reads.ClientID, pq.Array(reads.ClientSeqs))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var change string
		if err := rows.Scan(&change); err != nil {
			rows.Close()
			return nil, err
		}
		logged = append(logged, json.RawMessage(change))
	}
	rows.Close()
	records, absent := []json.RawMessage{}, []key{}
	for _, k := range reads.Records {
		var record string
		switch err := tx.QueryRow(`SELECT record FROM records WHERE tbl = $1 AND id = $2`, k.Table, k.ID).Scan(&record); {
		case err == nil:
			records = append(records, json.RawMessage(record))
		case errors.Is(err, sql.ErrNoRows):
			absent = append(absent, k)
		default:
			return nil, err
		}
	}
	context, err := json.Marshal(map[string]interface{}{
		"log":     map[string]interface{}{"head": head, "high": high},
		"client":  client,
		"logged":  logged,
		"records": records,
		"absent":  absent,
	})
	if err != nil {
		return nil, err
	}
	outcomeText, err := fieldmerge.PlanPush(json.RawMessage(config), context, push, at)
	if err != nil {
		return nil, err
	}
	var outcome struct {
		Accepted *struct {
			Append  []json.RawMessage `json:"append"`
			Records []json.RawMessage `json:"records"`
			Client  json.RawMessage   `json:"client"`
			Log     struct {
				Head int64
				High string
			} `json:"log"`
			AckedThrough json.RawMessage `json:"acked_through"`
			Report       json.RawMessage `json:"report"`
		} `json:"accepted"`
		Refused *struct {
			Error  json.RawMessage `json:"error"`
			Client json.RawMessage `json:"client"`
		} `json:"refused"`
	}
	if err := json.Unmarshal(outcomeText, &outcome); err != nil {
		return nil, err
	}
	storeClient := func(row json.RawMessage) error {
		var r struct {
			LastSeq    int64 `json:"last_seq"`
			ClockEpoch int64 `json:"clock_epoch"`
		}
		if err := json.Unmarshal(row, &r); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO clients VALUES ($1, $2, $3) ON CONFLICT (client_id)
			DO UPDATE SET last_seq = EXCLUDED.last_seq, clock_epoch = EXCLUDED.clock_epoch`,
			reads.ClientID, r.LastSeq, r.ClockEpoch)
		return err
	}
	if refused := outcome.Refused; refused != nil {
		// A refusal appends nothing, but the epoch it raised must be stored
		// with it (SPEC R13.2), or a stale push could pass after a restart.
		if len(refused.Client) > 0 && string(refused.Client) != "null" {
			if err := storeClient(refused.Client); err != nil {
				return nil, err
			}
			if err := tx.Commit(); err != nil {
				return nil, err
			}
		}
		return nil, refusal(refused.Error)
	}
	plan := outcome.Accepted
	for _, change := range plan.Append {
		var c struct {
			ClientID  string `json:"client_id"`
			ClientSeq *int64 `json:"client_seq"`
			ServerSeq int64  `json:"server_seq"`
		}
		if err := json.Unmarshal(change, &c); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(`INSERT INTO log VALUES ($1, $2, $3, $4)`, c.ServerSeq, c.ClientID, c.ClientSeq, string(change)); err != nil {
			return nil, err
		}
	}
	for _, record := range plan.Records {
		var k key
		if err := json.Unmarshal(record, &k); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(`INSERT INTO records VALUES ($1, $2, $3) ON CONFLICT (tbl, id) DO UPDATE SET record = EXCLUDED.record`,
			k.Table, k.ID, string(record)); err != nil {
			return nil, err
		}
	}
	if err := storeClient(plan.Client); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE head SET head = $1, high = $2 WHERE one = 1`, plan.Log.Head, plan.Log.High); err != nil {
		return nil, err
	}
	var cursor struct{ Cursor int64 }
	json.Unmarshal(push, &cursor)
	page, err := pageOf(tx, cursor.Cursor, 1000)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]json.RawMessage{
		"acked_through": plan.AckedThrough,
		"appended":      json.RawMessage(fmt.Sprint(len(plan.Append))),
		"page":          page,
		"report":        plan.Report,
	})
}

type querier interface {
	QueryRow(query string, args ...interface{}) *sql.Row
	Query(query string, args ...interface{}) (*sql.Rows, error)
}

// pageOf is the page of the log after cursor (SPEC R12.2), read in the
// caller's transaction so its head and changes agree.
func pageOf(q querier, after int64, limit int) (json.RawMessage, error) {
	var head int64
	if err := q.QueryRow(`SELECT head FROM head WHERE one = 1`).Scan(&head); err != nil {
		return nil, err
	}
	rows, err := q.Query(`SELECT change FROM log WHERE server_seq > $1 ORDER BY server_seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	changes := []json.RawMessage{}
	for rows.Next() {
		var change string
		if err := rows.Scan(&change); err != nil {
			return nil, err
		}
		changes = append(changes, json.RawMessage(change))
	}
	return json.Marshal(map[string]interface{}{"after": after, "changes": changes, "head": head})
}

type refusalError struct{ body json.RawMessage }

func (r refusalError) Error() string { return string(r.body) }

func refusal(body json.RawMessage) error { return refusalError{body} }

func (s *server) pull(body []byte) (json.RawMessage, error) {
	var pull struct {
		Cursor int64 `json:"cursor"`
		Limit  *int  `json:"limit"`
	}
	if err := json.Unmarshal(body, &pull); err != nil {
		return nil, err
	}
	limit := 1000
	if pull.Limit != nil && *pull.Limit >= 1 && *pull.Limit < limit {
		limit = *pull.Limit
	}
	// One snapshot: the head and the changes agree.
	tx, err := s.db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return pageOf(tx, pull.Cursor, limit)
}

func handler(f func([]byte) (json.RawMessage, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reply, err := f(body)
		w.Header().Set("Content-Type", "application/json")
		var refused refusalError
		var kernel *fieldmerge.Error
		switch {
		case err == nil:
			w.Write(reply)
		case errors.As(err, &refused):
			w.WriteHeader(http.StatusConflict)
			w.Write(refused.body)
		case errors.As(err, &kernel):
			w.WriteHeader(http.StatusBadRequest)
			w.Write(kernel.Body())
		default:
			log.Printf("internal error: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
}

func main() {
	dsn := flag.String("db", "", "the Postgres connection string")
	addr := flag.String("addr", "127.0.0.1:8080", "where to listen (loopback)")
	flag.Parse()
	db, err := sql.Open("postgres", *dsn)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec(schema); err != nil {
		log.Fatal(err)
	}
	s := &server{db: db}
	mux := http.NewServeMux()
	mux.Handle("/push", handler(func(body []byte) (json.RawMessage, error) { return s.push(body, now()) }))
	mux.Handle("/pull", handler(s.pull))
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	log.Fatal(http.Serve(listener, mux))
}
