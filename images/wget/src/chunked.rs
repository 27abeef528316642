//! The `Transfer-Encoding: chunked` body decoder (RFC 9112 section 7.1): each chunk is its size
//! in hex on a line (extensions after `;` ignored), the data, and a CRLF; a zero-size chunk
//! and optional trailer lines end the body. Servers use it when they stream a body whose
//! length they do not know in advance, so wget must read it even though it never asks for it.

use std::io::{self, BufRead, Read};

/// Reads the decoded body out of a chunked stream.
pub struct ChunkedReader<R> {
    inner: R,
    state: State,
}

enum State {
    /// Next comes a chunk-size line.
    Size,
    /// Inside a chunk, with this many bytes of it left.
    Data(u64),
    /// The last chunk and the trailers are read.
    Done,
}

impl<R: BufRead> ChunkedReader<R> {
    pub fn new(inner: R) -> ChunkedReader<R> {
        ChunkedReader { inner, state: State::Size }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.inner.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Size => {
                    let line = self.line()?;
                    let hex = line.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(hex, 16)
                        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {line:?}")))?;
                    if size == 0 {
                        // Trailer fields, if any, up to the empty line that ends the message.
                        while !self.line()?.is_empty() {}
                        self.state = State::Done;
                    } else {
                        self.state = State::Data(size);
                    }
                }
                State::Data(0) => {
                    self.line()?; // the CRLF after the chunk's data
                    self.state = State::Size;
                }
                State::Data(left) => {
                    let wanted = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..wanted])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    self.state = State::Data(left - n as u64);
                    return Ok(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(wire: &str) -> io::Result<String> {
        let mut body = String::new();
        ChunkedReader::new(wire.as_bytes()).read_to_string(&mut body)?;
        Ok(body)
    }

    #[test]
    fn chunks_are_joined_and_extensions_and_trailers_skipped() {
        assert_eq!(decode("5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n").unwrap(), "hello, world");
        assert_eq!(decode("3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n").unwrap(), "abc");
        assert_eq!(decode("A\r\n0123456789\r\n0\r\n\r\n").unwrap(), "0123456789");
        assert_eq!(decode("0\r\n\r\n").unwrap(), "");
    }

    #[test]
    fn a_body_cut_short_is_an_unexpected_eof() {
        for wire in ["5\r\nhel", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\n", ""] {
            assert_eq!(decode(wire).unwrap_err().kind(), io::ErrorKind::UnexpectedEof, "{wire:?}");
        }
    }

    #[test]
    fn a_bad_size_line_is_invalid_data() {
        assert_eq!(decode("zz\r\nhello\r\n").unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
