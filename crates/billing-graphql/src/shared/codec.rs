//! How an upstream answer is stored in Redis: its JSON, compressed with LZ4, behind a format byte.
//!
//! JSON, because the model's types are tested to round-trip through it (what the model reads it
//! can write back) and their tolerant deserializers expect a self-describing format; LZ4,
//! because billing answers repeat the same keys and names in every item, so they shrink to a
//! fraction (`tests/shared_codec.rs` measures each endpoint's answers) for microseconds of CPU.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The first byte of every stored value: another would be another format, read as a miss.
const FORMAT: u8 = 1;

/// The stored form of `value`, or `None` when it does not serialize.
pub fn encode<T: Serialize>(value: &T) -> Option<Vec<u8>> {
    let json = serde_json::to_vec(value).ok()?;
    let mut out = Vec::with_capacity(json.len() / 3 + 16);
    out.push(FORMAT);
    out.extend_from_slice(&lz4_flex::compress_prepend_size(&json));
    Some(out)
}

/// The value stored as `bytes`, or `None` when they are not of this format (a miss, never an
/// error: the upstream answers instead). The declared size is bounded, so a corrupt or hostile
/// value cannot make it allocate more than a cached answer may weigh.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    const MAX_JSON: usize = 64 * 1024 * 1024;
    let (&format, compressed) = bytes.split_first()?;
    if format != FORMAT {
        return None;
    }
    let declared = compressed.get(..4)?;
    let declared = u32::from_le_bytes([declared[0], declared[1], declared[2], declared[3]]) as usize;
    if declared > MAX_JSON {
        return None;
    }
    let json = lz4_flex::decompress_size_prepended(compressed).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn values_round_trip_and_other_bytes_are_misses() {
        let item = serde_json::json!({ "name": "aws.es.datahot.c6gd", "cost": 1.5 });
        let value = serde_json::json!({ "items": vec![item; 20] });
        let stored = encode(&value).unwrap();
        assert!(stored.len() < serde_json::to_vec(&value).unwrap().len() / 3);
        assert_eq!(decode::<serde_json::Value>(&stored), Some(value));
        assert_eq!(decode::<serde_json::Value>(b""), None);
        assert_eq!(decode::<serde_json::Value>(&[2, 0, 0, 0, 0]), None);
        // A declared size past the bound is refused before anything is allocated.
        assert_eq!(decode::<serde_json::Value>(&[1, 0xff, 0xff, 0xff, 0xff, 0]), None);
    }
}
