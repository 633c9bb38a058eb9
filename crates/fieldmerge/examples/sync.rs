//! Two devices and a server, in memory: an offline edit on each device, a
//! sync, and the one real conflict it reports.
//!
//! Run with `cargo run --release --example sync`.

use fieldmerge::{Actor, RecordKey, Replica, Server, ServerConfig, Timestamp, WriterId};
use serde_json::{json, Map, Value};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = |ms: i64| Timestamp::from_ms(1_777_197_600_000 + ms);
    let key = RecordKey::new("tasks", "t1");
    let mut server = Server::new(ServerConfig::default());
    let mut phone = Replica::new(WriterId::new("phone"));
    let mut laptop = Replica::new(WriterId::new("laptop"));

    phone.write(
        &key,
        &Actor::User,
        &obj(json!({"title": "Milk", "done": false})),
        t(0)?,
    )?;
    let reply = server.push(&phone.push(), t(1)?)?;
    // One call per message received: the acknowledgement and the page.
    phone.receive_reply(&reply)?;
    laptop.apply_page(&server.pull(0, 100))?;

    phone.write(
        &key,
        &Actor::User,
        &obj(json!({"title": "Oat milk"})),
        t(10)?,
    )?;
    laptop.write(&key, &Actor::User, &obj(json!({"done": true})), t(20)?)?;
    laptop.write(
        &key,
        &Actor::User,
        &obj(json!({"title": "Soy milk"})),
        t(30)?,
    )?;

    for device in [&mut laptop, &mut phone] {
        let reply = server.push(&device.push(), t(40)?)?;
        let report = device.receive_reply(&reply)?;
        for c in &report.conflicts {
            println!(
                "{}: conflict on {} field {}: {} lost to {}",
                device.client_id(),
                c.key,
                c.field,
                c.loser.value,
                c.winner.value
            );
        }
    }
    let report = laptop.apply_page(&server.pull(laptop.cursor().unwrap_or(0), 100))?;
    println!("laptop caught up, {} conflicts", report.conflicts.len());
    for device in [&phone, &laptop] {
        let record = device.record(&key).ok_or("record missing")?;
        println!(
            "{}: {} (updated {:?})",
            device.client_id(),
            Value::Object(record.values()),
            record.derive_updated_at()
        );
    }
    println!(
        "server: {}",
        Value::Object(server.record(&key).ok_or("record missing")?.values())
    );
    Ok(())
}
