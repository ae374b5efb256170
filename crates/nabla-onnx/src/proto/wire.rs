//! The protobuf wire format: varints, fixed-width numbers and length-delimited fields.
//!
//! Only what ONNX files use: wire types 0 (varint), 1 (64-bit), 2 (length-delimited) and
//! 5 (32-bit). Groups (3, 4) are deprecated and never written by ONNX tools; they are refused.

use crate::{Error, Result};

/// A protobuf field's wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// Variable-length integer.
    Varint,
    /// Little-endian 8 bytes.
    Fixed64,
    /// A varint length, then that many bytes.
    Len,
    /// Little-endian 4 bytes.
    Fixed32,
}

/// A field's value as it appears on the wire.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A varint (ints, enums, bools).
    Varint(u64),
    /// 64-bit: doubles.
    Fixed64(u64),
    /// Bytes: strings, sub-messages, packed repeated numbers.
    Len(&'a [u8]),
    /// 32-bit: floats.
    Fixed32(u32),
}

/// Reads the fields of one message from a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Which message is being read, for error messages.
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, the body of a message called `what`.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn err(&self, msg: impl Into<String>) -> Error {
        Error::Corrupt {
            what: self.what,
            offset: self.pos,
            msg: msg.into(),
        }
    }

    /// Reads one varint.
    pub fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err("truncated varint"));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(self.err("varint longer than 64 bits"));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                self.err(format!(
                    "field of {n} bytes runs past the end ({} bytes left): the file is truncated",
                    self.buf.len() - self.pos
                ))
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field as `(number, value)`, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(self.err(format!("invalid field number {number}")));
        }
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(
                self.bytes(8)?.try_into().expect("8 bytes"),
            )),
            2 => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| self.err("length too large"))?;
                Field::Len(self.bytes(n)?)
            }
            5 => Field::Fixed32(u32::from_le_bytes(
                self.bytes(4)?.try_into().expect("4 bytes"),
            )),
            t => return Err(self.err(format!("unsupported wire type {t}"))),
        };
        Ok(Some((number as u32, field)))
    }
}

impl<'a> Field<'a> {
    /// The bytes of a length-delimited field.
    pub fn as_bytes(&self, what: &'static str) -> Result<&'a [u8]> {
        match *self {
            Field::Len(b) => Ok(b),
            _ => Err(wrong_type(what, "bytes")),
        }
    }

    /// A string field (UTF-8).
    pub fn as_string(&self, what: &'static str) -> Result<String> {
        let b = self.as_bytes(what)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::Corrupt {
            what,
            offset: 0,
            msg: "a string field is not UTF-8".into(),
        })
    }

    /// A varint field as i64 (two's complement, as protobuf's int64 and int32 are written).
    pub fn as_i64(&self, what: &'static str) -> Result<i64> {
        match *self {
            Field::Varint(v) => Ok(v as i64),
            _ => Err(wrong_type(what, "varint")),
        }
    }

    /// A 32-bit float field.
    pub fn as_f32(&self, what: &'static str) -> Result<f32> {
        match *self {
            Field::Fixed32(v) => Ok(f32::from_bits(v)),
            _ => Err(wrong_type(what, "float")),
        }
    }

    /// Appends the values of a repeated varint field, packed or not.
    pub fn push_i64s(&self, out: &mut Vec<i64>, what: &'static str) -> Result<()> {
        match *self {
            Field::Varint(v) => out.push(v as i64),
            Field::Len(b) => {
                let mut r = Reader::new(b, what);
                while r.pos < b.len() {
                    out.push(r.varint()? as i64);
                }
            }
            _ => return Err(wrong_type(what, "varint")),
        }
        Ok(())
    }

    /// Appends the values of a repeated float field, packed or not.
    pub fn push_f32s(&self, out: &mut Vec<f32>, what: &'static str) -> Result<()> {
        match *self {
            Field::Fixed32(v) => out.push(f32::from_bits(v)),
            Field::Len(b) => {
                if b.len() % 4 != 0 {
                    return Err(wrong_type(what, "packed floats (a multiple of 4 bytes)"));
                }
                out.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))),
                );
            }
            _ => return Err(wrong_type(what, "float")),
        }
        Ok(())
    }

    /// Appends the values of a repeated double field, packed or not.
    pub fn push_f64s(&self, out: &mut Vec<f64>, what: &'static str) -> Result<()> {
        match *self {
            Field::Fixed64(v) => out.push(f64::from_bits(v)),
            Field::Len(b) => {
                if b.len() % 8 != 0 {
                    return Err(wrong_type(what, "packed doubles (a multiple of 8 bytes)"));
                }
                out.extend(
                    b.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
                );
            }
            _ => return Err(wrong_type(what, "double")),
        }
        Ok(())
    }
}

fn wrong_type(what: &'static str, expected: &str) -> Error {
    Error::Corrupt {
        what,
        offset: 0,
        msg: format!("a field has the wrong wire type (expected {expected})"),
    }
}

/// Writes the fields of one message.
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, number: u32, wire: WireType) {
        let t = match wire {
            WireType::Varint => 0,
            WireType::Fixed64 => 1,
            WireType::Len => 2,
            WireType::Fixed32 => 5,
        };
        self.raw_varint((u64::from(number) << 3) | t);
    }

    /// A varint field (int64, int32, enum).
    pub fn int(&mut self, number: u32, v: i64) {
        self.key(number, WireType::Varint);
        self.raw_varint(v as u64);
    }

    /// A float field.
    pub fn float(&mut self, number: u32, v: f32) {
        self.key(number, WireType::Fixed32);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A bytes or string field.
    pub fn bytes(&mut self, number: u32, b: &[u8]) {
        self.key(number, WireType::Len);
        self.raw_varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// A sub-message field, written by `f` into its own buffer.
    pub fn message(&mut self, number: u32, f: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::default();
        f(&mut inner);
        self.bytes(number, &inner.buf);
    }

    /// A packed repeated varint field.
    pub fn packed_ints(&mut self, number: u32, vs: &[i64]) {
        let mut inner = Writer::default();
        for &v in vs {
            inner.raw_varint(v as u64);
        }
        self.bytes(number, &inner.buf);
    }

    /// A packed repeated float field.
    pub fn packed_floats(&mut self, number: u32, vs: &[f32]) {
        let bytes: Vec<u8> = vs.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(number, &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_including_negative_numbers() -> Result<()> {
        let mut w = Writer::default();
        for v in [0i64, 1, 127, 128, 300, -1, i64::MIN, i64::MAX] {
            w.int(3, v);
        }
        let mut r = Reader::new(&w.buf, "test");
        for v in [0i64, 1, 127, 128, 300, -1, i64::MIN, i64::MAX] {
            let (n, f) = r.next_field()?.expect("a field");
            assert_eq!((n, f.as_i64("test")?), (3, v));
        }
        assert!(r.next_field()?.is_none());
        Ok(())
    }

    #[test]
    fn a_truncated_length_field_is_an_error_naming_the_truncation() {
        let mut w = Writer::default();
        w.bytes(1, b"hello");
        let cut = &w.buf[..w.buf.len() - 2];
        let err = Reader::new(cut, "test").next_field().unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn packed_and_unpacked_ints_read_alike() -> Result<()> {
        let mut w = Writer::default();
        w.packed_ints(8, &[1, -2, 3]);
        w.int(8, 4);
        let mut r = Reader::new(&w.buf, "test");
        let mut out = vec![];
        while let Some((_, f)) = r.next_field()? {
            f.push_i64s(&mut out, "test")?;
        }
        assert_eq!(out, vec![1, -2, 3, 4]);
        Ok(())
    }

    #[test]
    fn an_overlong_varint_is_an_error() {
        let bytes = [
            0x08u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert!(Reader::new(&bytes, "test").next_field().is_err());
    }
}
