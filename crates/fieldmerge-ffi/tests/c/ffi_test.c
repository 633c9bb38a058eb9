/* The C ABI exercised from plain C: every function of fieldmerge.h, its
 * error paths included. Run by run.sh under valgrind, where any leak or
 * invalid access fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldmerge.h"

static int failures = 0;
static int checks = 0;

#define S(text) (const uint8_t *)(text), strlen(text)

/* Checks a call's status and that its text contains `want`; frees it. */
static void expect(const char *what, FmStatus status, char *out, FmStatus want_status, const char *want) {
  checks++;
  if (status != want_status || out == NULL || strstr(out, want) == NULL) {
    failures++;
    fprintf(stderr, "FAIL %s: status %d, text %s (wanted status %d and %s)\n", what, (int)status,
            out ? out : "(null)", (int)want_status, want);
  }
  fm_string_free(out);
}

#define OK(call, want) do { char *out = NULL; FmStatus st = call; expect(#call, st, out, FM_STATUS_OK, want); } while (0)
#define KEEP(var, call) char *var = NULL; do { char *out = NULL; FmStatus st = call; var = keep(st, out); } while (0)
#define ERR(call, code) do { char *out = NULL; FmStatus st = call; expect(#call, st, out, FM_STATUS_ERROR, "\"code\":\"" code "\""); } while (0)

/* A call whose text the test keeps (freed by the caller). */
static char *keep(FmStatus status, char *out) {
  checks++;
  if (status != FM_STATUS_OK) {
    failures++;
    fprintf(stderr, "FAIL: %s\n", out ? out : "(null)");
  }
  return out;
}

int main(void) {
  checks++;
  if (fm_version() == NULL || strlen(fm_version()) == 0) failures++;
  fm_string_free(NULL);

  /* Values alone. */
  OK(fm_read_json(S("{\"b\": 1.0, \"a\": -0}"), &out), "{\"a\":0,\"b\":1}");
  ERR(fm_read_json(S("{\"a\": 1, \"a\": 2}"), &out), "duplicate_member");
  ERR(fm_read_json(S("9007199254740993"), &out), "bad_number");
  ERR(fm_read_json(S("[1,"), &out), "json");
  ERR(fm_read_json(NULL, 3, &out), "null_pointer");
  ERR(fm_read_json((const uint8_t *)"\"\xff\"", 3, &out), "json");
  OK(fm_compare_values(S("1"), S("1.0"), &out), "0");
  OK(fm_compare_values(S("\"B\""), S("\"a\""), &out), "-1");
  ERR(fm_compare_values(S("1"), S("nope"), &out), "json");
  OK(fm_derive_updated_at(S("{\"updatedAt\": \"2026-04-26T10:00:00.000Z\"}"), &out), "2026-04-26T10:00:00.000Z");
  ERR(fm_derive_updated_at(S("{"), &out), "json");

  /* A replica. */
  FmReplica *phone = NULL;
  OK(fm_replica_new(S("phone"), &phone, &out), "null");
  ERR(fm_replica_new(S(""), &phone, &out), "bad_name");
  ERR(fm_replica_new((const uint8_t *)"\xff", 1, &phone, &out), "bad_utf8");
  ERR(fm_replica_new(S("x"), NULL, &out), "null_pointer");
  const char *write = "{\"table\": \"tasks\", \"id\": \"t1\", \"actor\": {\"kind\": \"user\"}, "
                      "\"patch\": {\"title\": \"Milk\"}, \"now\": \"2026-04-26T10:00:00.000Z\"}";
  OK(fm_replica_write(phone, S(write), &out), "\"client_seq\":1");
  OK(fm_replica_write(phone, S(write), &out), "null");
  ERR(fm_replica_write(phone, S("{\"table\": \"tasks\"}"), &out), "missing");
  ERR(fm_replica_write(phone, S("{\"table\": \"tasks\", \"id\": \"t1\", \"actor\": {\"kind\": \"user\"}, "
                                "\"patch\": {\"deletedAt\": 1}, \"now\": \"2026-04-26T10:00:00.000Z\"}"), &out),
      "reserved_field");
  OK(fm_replica_bootstrap(phone, S("{\"kind\": \"settings\", \"scope\": \"u1\", \"fields\": {\"theme\": \"dark\"}}"), &out),
     "\"system:bootstrap\"");
  OK(fm_replica_delete(phone, S("{\"table\": \"tasks\", \"id\": \"t1\", \"actor\": {\"kind\": \"user\"}, "
                                "\"now\": \"2026-04-26T10:00:01.000Z\"}"), &out), "\"op\":\"delete\"");
  OK(fm_replica_restore(phone, S("{\"table\": \"tasks\", \"id\": \"t1\", \"actor\": {\"kind\": \"user\"}, "
                                 "\"now\": \"2026-04-26T10:00:02.000Z\"}"), &out), "\"deletedAt\":null");
  ERR(fm_replica_delete(phone, S("{\"table\": \"tasks\", \"id\": \"nope\", \"actor\": {\"kind\": \"user\"}, "
                                 "\"now\": \"2026-04-26T10:00:01.000Z\"}"), &out), "no_such_record");
  OK(fm_replica_state(phone, &out), "\"client_id\":\"phone\"");

  /* A server, and a sync round. */
  FmServer *server = NULL;
  OK(fm_server_new(S("{\"skew_ms_max\": 60000, \"page_size_max\": 100}"), &server, &out), "null");
  ERR(fm_server_new(S("{\"skew_ms_max\": -1, \"page_size_max\": 100}"), &server, &out), "wrong_type");
  KEEP(push, fm_replica_push(phone, &out));
  OK(fm_push_reads(S(push), &out), "\"client_id\":\"phone\"");
  KEEP(reply, fm_server_push(server, S(push), S("2026-04-26T10:00:03.000Z"), &out));
  ERR(fm_server_push(server, S(push), S("not a time"), &out), "bad_timestamp");
  OK(fm_replica_receive_reply(phone, S(reply), &out), "\"conflicts\":[]");
  ERR(fm_replica_receive_reply(phone, S("{}"), &out), "wrong_type");
  ERR(fm_plan_push(S("{\"skew_ms_max\": 60000, \"page_size_max\": 100}"),
                  S("{\"log\": {\"head\": 0, \"high\": \"1970-01-01T00:00:00.000Z\"}}"), S(push),
                  S("2026-04-26T10:00:03.000Z"), &out),
      "not_read");
  fm_string_free(push);
  fm_string_free(reply);
  OK(fm_server_pull(server, S("{\"cursor\": 0, \"limit\": 2}"), &out), "\"head\":4");
  OK(fm_server_write(server, S("{\"writer\": \"agent-1\", \"actor\": {\"kind\": \"ai\"}, \"table\": \"tasks\", "
                               "\"id\": \"t1\", \"patch\": {\"title\": \"Oat milk\"}, \"now\": \"2026-04-26T10:00:04.000Z\"}"),
                   &out), "\"origin\":\"agent\"");
  OK(fm_server_bootstrap(server, S("{\"kind\": \"settings\", \"scope\": \"u2\", \"fields\": {\"theme\": \"light\"}}"), &out),
     "\"settings:u2\"");
  OK(fm_server_records(server, &out), "Oat milk");
  KEEP(log, fm_server_log(server, &out));
  KEEP(clients, fm_server_clients(server, &out));
  FmServer *restarted = NULL;
  OK(fm_server_from_log(S("{\"skew_ms_max\": 60000, \"page_size_max\": 100}"), S(log), S(clients), &restarted, &out),
     "null");
  /* A row that is not a change keeps its place (R12.6); a log that is not
     an array is refused. */
  ERR(fm_server_from_log(S("{\"skew_ms_max\": 60000, \"page_size_max\": 100}"), S("{\"not\": 1}"), S("{}"), &restarted, &out),
      "wrong_type");
  fm_string_free(log);
  fm_string_free(clients);
  OK(fm_server_log(restarted, &out), "\"server_seq\":6");
  OK(fm_server_free(restarted, &out), "null");

  /* Pages, acks, merges, clock corrections. */
  OK(fm_replica_apply_page(phone, S("{\"after\": 4, \"changes\": [], \"head\": 6}"), &out), "\"changed\":[]");
  ERR(fm_replica_apply_page(phone, S("{\"after\": 9, \"changes\": [], \"head\": 9}"), &out), "not_at_cursor");
  OK(fm_replica_ack(phone, S("null"), &out), "null");
  ERR(fm_replica_ack(phone, S("-1"), &out), "wrong_type");
  OK(fm_replica_reset_cursor(phone, &out), "null");
  OK(fm_replica_apply(phone, S("[]"), 1, &out), "\"tally\"");
  ERR(fm_replica_apply(phone, S("[{\"table\": 1}]"), 0, &out), "wrong_type");
  FmReplica *laptop = NULL;
  OK(fm_replica_new(S("laptop"), &laptop, &out), "null");
  KEEP(state, fm_replica_state(phone, &out));
  OK(fm_replica_merge(laptop, S(state), &out), "\"changed\":[{\"id\":\"settings:u1\"");
  fm_string_free(state);
  ERR(fm_replica_merge(laptop, S("{}"), &out), "state_json");
  OK(fm_replica_write(laptop, S("{\"table\": \"tasks\", \"id\": \"t9\", \"actor\": {\"kind\": \"user\"}, "
                                "\"patch\": {\"n\": 1}, \"now\": \"2026-04-27T10:00:00.000Z\"}"), &out), "\"t9\"");
  KEEP(ahead, fm_replica_push(laptop, &out));
  char *refusal = NULL;
  FmStatus st = fm_server_push(server, S(ahead), S("2026-04-26T10:00:05.000Z"), &refusal);
  checks++;
  if (st != FM_STATUS_ERROR || strstr(refusal, "\"code\":\"clock_ahead\"") == NULL || strstr(refusal, "\"server_now\"") == NULL) {
    failures++;
    fprintf(stderr, "FAIL clock_ahead refusal: %s\n", refusal);
  }
  OK(fm_replica_receive_refusal(laptop, S(refusal), S("2026-04-27T10:00:01.000Z"), &out), "null");
  ERR(fm_replica_receive_refusal(laptop, S(refusal), S("yesterday"), &out), "bad_timestamp");
  fm_string_free(refusal);
  fm_string_free(ahead);
  OK(fm_replica_correct_clock(laptop, S("{\"server_now\": \"2026-04-26T10:00:05.000Z\", \"skew_ms_max\": 60000, "
                                        "\"log_high\": \"2026-04-26T10:00:05.000Z\", \"clock_epoch\": 2, "
                                        "\"now\": \"2026-04-27T10:00:02.000Z\"}"), &out), "null");
  ERR(fm_replica_correct_clock(laptop, S("{\"server_now\": 1}"), &out), "wrong_type");
  OK(fm_replica_state(laptop, &out), "\"epoch\":2");
  KEEP(loaded_state, fm_replica_state(laptop, &out));
  FmReplica *loaded = NULL;
  OK(fm_replica_load(S(loaded_state), &loaded, &out), "null");
  fm_string_free(loaded_state);
  ERR(fm_replica_load(S("{\"client_id\": \"a\", \"client_id\": \"b\"}"), &loaded, &out), "state_json");
  OK(fm_replica_free(loaded, &out), "null");

  /* Handles that are not live, and a NULL out. */
  OK(fm_replica_free(laptop, &out), "null");
  ERR(fm_replica_free(laptop, &out), "bad_handle");
  ERR(fm_replica_push(laptop, &out), "bad_handle");
  ERR(fm_replica_state(NULL, &out), "bad_handle");
  ERR(fm_server_log((FmServer *)phone, &out), "bad_handle");
  checks++;
  if (fm_replica_push(phone, NULL) != FM_STATUS_OK) failures++;
  OK(fm_server_free(server, &out), "null");
  ERR(fm_server_free(server, &out), "bad_handle");
  OK(fm_replica_free(phone, &out), "null");

  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
