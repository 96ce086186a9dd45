use super::*;

fn register_call() -> Message {
    Message::method_call(
        "org.freedesktop.machine1",
        "/org/freedesktop/machine1",
        "org.freedesktop.machine1.Manager",
        "RegisterMachineWithNetwork",
        vec![
            Value::Str("deb".into()),
            Value::Array("y".into(), (0..16).map(Value::Byte).collect()),
            Value::Str("wharf".into()),
            Value::Str("container".into()),
            Value::U32(4242),
            Value::Str("/var/lib/machines/deb".into()),
            Value::Array("i".into(), vec![Value::I32(7)]),
        ],
    )
}

#[test]
fn round_trip() {
    let m = register_call();
    assert_eq!(m.signature(), "sayssusai");
    let bytes = m.encode();
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(frame_len(&bytes).unwrap(), bytes.len());
    assert_eq!(Message::decode(&bytes).unwrap(), m);

    let props = Value::Array(
        "(sv)".into(),
        vec![
            Value::Struct(vec![
                Value::Str("PIDs".into()),
                Value::Variant(Box::new(Value::Array("u".into(), vec![Value::U32(1)]))),
            ]),
            Value::Struct(vec![
                Value::Str("Delegate".into()),
                Value::Variant(Box::new(Value::Bool(true))),
            ]),
        ],
    );
    let dict = Value::Array(
        "{sv}".into(),
        vec![Value::DictEntry(
            Box::new(Value::Str("k".into())),
            Box::new(Value::Variant(Box::new(Value::U64(9)))),
        )],
    );
    let m = Message::method_call("a.b", "/", "a.b", "C", vec![props, dict]);
    assert_eq!(m.signature(), "a(sv)a{sv}");
    assert_eq!(Message::decode(&m.encode()).unwrap(), m);
}

#[test]
fn the_hello_call_is_laid_out_as_the_specification_says() {
    let m = Message::method_call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "Hello",
        vec![],
    );
    let b = m.encode();
    assert_eq!(&b[..4], b"l\x01\x00\x01");
    assert_eq!(&b[4..8], &[0, 0, 0, 0], "no body");
    assert_eq!(&b[8..12], &[1, 0, 0, 0], "serial");
    // First field: code 1 (path), variant signature "o", padding, length 21, the path.
    assert_eq!(&b[16..20], b"\x01\x01o\x00");
    assert_eq!(&b[20..24], &[21, 0, 0, 0]);
    assert_eq!(&b[24..46], b"/org/freedesktop/DBus\0");
    assert_eq!(
        b.len() % 8,
        0,
        "a body-less message ends on the header's padding"
    );
}

#[test]
fn big_endian_messages_decode() {
    // An error reply, big-endian, body "s".
    let mut w: Vec<u8> = vec![b'B', 3, 0, 1];
    let body = {
        let mut b = Vec::new();
        b.extend_from_slice(&4u32.to_be_bytes());
        b.extend_from_slice(b"nope\0");
        b
    };
    w.extend_from_slice(&(body.len() as u32).to_be_bytes());
    w.extend_from_slice(&7u32.to_be_bytes());
    let mut fields = Vec::new();
    // (4, v"s" "x.Err")
    fields.extend_from_slice(&[4, 1, b's', 0]);
    fields.extend_from_slice(&5u32.to_be_bytes());
    fields.extend_from_slice(b"x.Err\0");
    while !(16 + fields.len()).is_multiple_of(8) {
        fields.push(0);
    }
    // (5, v"u" 3)
    fields.extend_from_slice(&[5, 1, b'u', 0]);
    fields.extend_from_slice(&3u32.to_be_bytes());
    while !(16 + fields.len()).is_multiple_of(8) {
        fields.push(0);
    }
    // (8, v"g" "s")
    fields.extend_from_slice(&[8, 1, b'g', 0, 1, b's', 0]);
    let flen = fields.len() as u32;
    w.extend_from_slice(&flen.to_be_bytes());
    w.extend_from_slice(&fields);
    while !w.len().is_multiple_of(8) {
        w.push(0);
    }
    w.extend_from_slice(&body);
    let m = Message::decode(&w).unwrap();
    assert_eq!(m.kind, Kind::Error);
    assert_eq!(m.error_name.as_deref(), Some("x.Err"));
    assert_eq!(m.reply_serial, Some(3));
    assert_eq!(m.body, vec![Value::Str("nope".into())]);
}

#[test]
fn malformed_messages_are_errors() {
    let good = register_call().encode();
    assert_eq!(frame_len(&good[..10]), Err(Error::Truncated));
    assert_eq!(
        Message::decode(&good[..good.len() - 1]),
        Err(Error::Truncated)
    );
    let mut bad = good.clone();
    bad[0] = b'x';
    assert!(Message::decode(&bad).is_err());
    let mut bad = good.clone();
    bad[1] = 9;
    assert!(Message::decode(&bad).is_err());
    let mut huge = good.clone();
    huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(frame_len(&huge), Err(Error::TooLong));
    // Every truncation and every single-byte change: an error or a message, never a panic.
    for n in 0..good.len() {
        let _ = Message::decode(&good[..n]);
        for x in [0u8, 1, 0x7f, 0xff] {
            let mut b = good.clone();
            b[n] = x;
            let _ = Message::decode(&b);
        }
    }
    // A serial of 0 is refused.
    let mut zero = good;
    zero[8..12].copy_from_slice(&[0; 4]);
    assert!(Message::decode(&zero).is_err());
}

#[test]
fn invalid_values_are_not_encoded() {
    let m = Message::method_call("a.b", "not/a/path", "a.b", "C", vec![]);
    assert!(m.to_bytes().is_err());
    let m = Message::method_call(
        "a.b",
        "/",
        "a.b",
        "C",
        vec![Value::Str("nul\0inside".into())],
    );
    assert!(m.to_bytes().is_err());
}
