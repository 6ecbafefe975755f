//! A streaming encoder for one content coding, writing into memory: what
//! the compressors and compressed search answers share.

use std::io::{self, Write};

use super::{Codec, GZIP_LEVEL, ZSTD_LEVEL};

/// A streaming encoder writing into a growing buffer, whose output is taken
/// from it piece by piece: the compressed store's next chunk, or a search
/// answer's next frame.
pub struct Encoder {
    inner: Inner,
}

enum Inner {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    /// An encoder for `codec`, at livelog's level for it ([`GZIP_LEVEL`],
    /// [`ZSTD_LEVEL`]; a zstd frame carries its content checksum).
    ///
    /// # Errors
    /// zstd's, if its context cannot be made (out of memory).
    pub fn new(codec: Codec) -> io::Result<Self> {
        let inner = match codec {
            Codec::Gzip => Inner::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(GZIP_LEVEL),
            )),
            Codec::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
                // The frame ends with a checksum of what it holds, which
                // decoders check: a corrupted copy is an error, not a wrong
                // text.
                encoder.include_checksum(true)?;
                Inner::Zstd(encoder)
            }
        };
        Ok(Encoder { inner })
    }

    /// Compresses `data` (its output may stay in the encoder until a flush).
    ///
    /// # Errors
    /// The codec's (writing into memory itself cannot fail).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Gzip(e) => e.write_all(data),
            Inner::Zstd(e) => e.write_all(data),
        }
    }

    /// A sync flush: everything written so far can be decoded from the
    /// output, and the stream goes on.
    ///
    /// # Errors
    /// The codec's.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Gzip(e) => e.flush(),
            Inner::Zstd(e) => e.flush(),
        }
    }

    /// Bytes of output waiting to be taken.
    pub fn pending(&self) -> usize {
        match &self.inner {
            Inner::Gzip(e) => e.get_ref().len(),
            Inner::Zstd(e) => e.get_ref().len(),
        }
    }

    /// The output so far, leaving the buffer empty.
    pub fn take(&mut self) -> Vec<u8> {
        match &mut self.inner {
            Inner::Gzip(e) => std::mem::take(e.get_mut()),
            Inner::Zstd(e) => std::mem::take(e.get_mut()),
        }
    }

    /// Ends the stream; returns the output not yet taken, its end included.
    ///
    /// # Errors
    /// The codec's.
    pub fn finish(self) -> io::Result<Vec<u8>> {
        match self.inner {
            Inner::Gzip(e) => e.finish(),
            Inner::Zstd(e) => e.finish(),
        }
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codec = match self.inner {
            Inner::Gzip(_) => Codec::Gzip,
            Inner::Zstd(_) => Codec::Zstd,
        };
        f.debug_struct("Encoder").field("codec", &codec).finish()
    }
}
