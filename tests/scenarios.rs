//! The failure modes of the system this replaces, as scenarios.

use crate::support::*;
use fieldmerge::{Actor, Server, ServerConfig};
use serde_json::json;

#[test]
fn r5_1_create_stamps_every_field_and_the_shadow_index() {
    let mut phone = replica("phone");
    let change = phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "a", "done": false})),
            t(5),
        )
        .unwrap()
        .unwrap();
    let record = phone.record(&key("t1")).unwrap();
    assert_eq!(record.field("title").unwrap().at, t(5));
    assert_eq!(record.field("done").unwrap().at, t(5));
    assert_eq!(record.updated_at_index(), Some(t(5)));
    assert_eq!(change.writes().count(), 2);
    let _ = Server::new(ServerConfig::default());
}
