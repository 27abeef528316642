//! Protobuf's wire format, read: varints and the (field number, value) pairs of a message.
//!
//! A message is a flat run of fields. Each field starts with a varint key, `number << 3 | wire
//! type`, followed by its value:
//!
//! | wire type | value                                  | used by Kubernetes for              |
//! |-----------|----------------------------------------|-------------------------------------|
//! | 0         | a varint                               | int32, int64, bool                  |
//! | 2         | a varint length, then that many bytes  | string, bytes, messages, map entries |
//! | 1, 5      | 8 or 4 bytes, little-endian            | (double, fixed32: not in these APIs) |
//!
//! A varint is 7 bits per byte, least significant group first, the high bit set on every byte but
//! the last: 300 = `0b10_0101100` → `ac 02`. A negative int32 is sign-extended to 64 bits, so it
//! always takes 10 bytes. Groups (wire types 3 and 4) are a protobuf 1 relic Kubernetes never
//! writes; they are refused. Nothing here allocates by a length read from the input: every length
//! is checked against the bytes that are left before it is used, so garbled bodies end in an
//! error, never in a panic or a huge allocation.

/// What can be wrong with a body at the wire level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated varint")]
    TruncatedVarint,
    #[error("varint longer than 10 bytes")]
    VarintTooLong,
    #[error("field {number} claims {claimed} bytes but only {left} are left")]
    TruncatedField { number: u32, claimed: u64, left: usize },
    #[error("field number {0} is out of range")]
    BadFieldNumber(u64),
    #[error("field {number} has wire type {wire_type}, which Kubernetes never writes")]
    UnsupportedWireType { number: u32, wire_type: u8 },
}

/// One field's value, as the wire carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireValue<'a> {
    Varint(u64),
    /// Length-delimited: a string, bytes, an embedded message, a map entry or packed scalars.
    Bytes(&'a [u8]),
    Fixed64(u64),
    Fixed32(u32),
}

impl WireValue<'_> {
    /// The wire type's name, for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "a varint",
            WireValue::Bytes(_) => "length-delimited bytes",
            WireValue::Fixed64(_) => "a 64-bit fixed value",
            WireValue::Fixed32(_) => "a 32-bit fixed value",
        }
    }
}

/// Reads one varint from the front of `bytes`, advancing it.
pub fn varint(bytes: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            *bytes = &bytes[index + 1..];
            return Ok(value);
        }
    }
    Err(if bytes.len() >= 10 { WireError::VarintTooLong } else { WireError::TruncatedVarint })
}

/// The fields of one message, in the order they were written.
pub fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { rest: bytes }
}

/// Iterator over a message's fields; it stops after the first error.
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = self.read_field();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

impl<'a> Fields<'a> {
    fn read_field(&mut self) -> Result<(u32, WireValue<'a>), WireError> {
        let key = varint(&mut self.rest)?;
        let number = u32::try_from(key >> 3).ok().filter(|&n| n != 0).ok_or(WireError::BadFieldNumber(key >> 3))?;
        let value = match key & 7 {
            0 => WireValue::Varint(varint(&mut self.rest)?),
            2 => {
                let claimed = varint(&mut self.rest)?;
                let left = self.rest.len();
                let len = usize::try_from(claimed)
                    .ok()
                    .filter(|&len| len <= left)
                    .ok_or(WireError::TruncatedField { number, claimed, left })?;
                let (value, rest) = self.rest.split_at(len);
                self.rest = rest;
                WireValue::Bytes(value)
            }
            1 => WireValue::Fixed64(u64::from_le_bytes(self.take::<8>(number)?)),
            5 => WireValue::Fixed32(u32::from_le_bytes(self.take::<4>(number)?)),
            other => return Err(WireError::UnsupportedWireType { number, wire_type: other as u8 }),
        };
        Ok((number, value))
    }

    fn take<const N: usize>(&mut self, number: u32) -> Result<[u8; N], WireError> {
        let left = self.rest.len();
        let (head, rest) =
            self.rest.split_first_chunk::<N>().ok_or(WireError::TruncatedField { number, claimed: N as u64, left })?;
        self.rest = rest;
        Ok(*head)
    }
}

/// The varints of a packed repeated field (`[1, 2, 300]` → `01 02 ac 02`).
pub fn packed_varints(mut bytes: &[u8]) -> Result<Vec<u64>, WireError> {
    let mut values = Vec::new();
    while !bytes.is_empty() {
        values.push(varint(&mut bytes)?);
    }
    Ok(values)
}

/// Writers for hand-made test bodies: the inverse of the readers above, as little as tests need.
#[cfg(test)]
pub mod write {
    pub fn varint(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    /// A length-delimited field: a string, bytes or an embedded message.
    pub fn bytes(number: u32, value: &[u8]) -> Vec<u8> {
        [varint(u64::from(number) << 3 | 2), varint(value.len() as u64), value.to_vec()].concat()
    }

    /// A varint field: an int or a bool (negative ints as their 64-bit two's complement).
    pub fn number(number: u32, value: i64) -> Vec<u8> {
        [varint(u64::from(number) << 3), varint(value as u64)].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_seven_bits_per_byte_low_group_first() {
        for (bytes, value) in [(&[0x00][..], 0), (&[0x7f][..], 127), (&[0xac, 0x02][..], 300)] {
            let mut input = bytes;
            assert_eq!(varint(&mut input), Ok(value));
            assert!(input.is_empty());
        }
        assert_eq!(varint(&mut &[0xff; 9][..]), Err(WireError::TruncatedVarint));
        // -1 as an int32: sign-extended to ten bytes.
        let mut minus_one = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..];
        assert_eq!(varint(&mut minus_one).map(|v| v as i64), Ok(-1));
        assert_eq!(varint(&mut &[0xff; 11][..]), Err(WireError::VarintTooLong));
    }

    #[test]
    fn fields_come_in_order_with_their_wire_values() {
        // 1: "ab", 2: varint 3, 3: fixed32 1, 4: fixed64 2.
        let message = [0x0a, 0x02, b'a', b'b', 0x10, 0x03, 0x1d, 1, 0, 0, 0, 0x21, 2, 0, 0, 0, 0, 0, 0, 0];
        let read: Vec<_> = fields(&message).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            read,
            [
                (1, WireValue::Bytes(b"ab")),
                (2, WireValue::Varint(3)),
                (3, WireValue::Fixed32(1)),
                (4, WireValue::Fixed64(2))
            ]
        );
    }

    #[test]
    fn truncated_and_foreign_input_ends_in_one_error() {
        let cases: [(&[u8], WireError); 4] = [
            (&[0x0a, 0x05, b'a'], WireError::TruncatedField { number: 1, claimed: 5, left: 1 }),
            (&[0x0b], WireError::UnsupportedWireType { number: 1, wire_type: 3 }),
            (&[0x02], WireError::BadFieldNumber(0)),
            (&[0x0d, 1, 2], WireError::TruncatedField { number: 1, claimed: 4, left: 2 }),
        ];
        for (bytes, error) in cases {
            let read: Vec<_> = fields(bytes).collect();
            assert_eq!(read, [Err(error)], "{bytes:02x?}");
        }
    }

    #[test]
    fn packed_varints_are_read_back_to_back() {
        assert_eq!(packed_varints(&[0x01, 0x02, 0xac, 0x02]), Ok(vec![1, 2, 300]));
        assert_eq!(packed_varints(&[0x80]), Err(WireError::TruncatedVarint));
    }
}
