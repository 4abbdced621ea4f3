//! Writing `.gz` and `.br` siblings of a file at `collectstatic` time, when compression
//! pays: each sibling is kept only if it saves at least `min_saving` of the size.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

fn sibling(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(ext);
    PathBuf::from(name)
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    enc.finish()
}

fn brotli(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        enc.write_all(data)?;
    }
    Ok(out)
}

fn write_or_remove(
    path: &Path,
    original: usize,
    packed: &[u8],
    min_saving: f64,
) -> std::io::Result<bool> {
    if (packed.len() as f64) <= (original as f64) * (1.0 - min_saving) {
        fs::write(path, packed)?;
        Ok(true)
    } else {
        match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(false),
        }
    }
}

/// Writes `path.gz` and `path.br` where each saves at least `min_saving` (a fraction);
/// returns the siblings written (a stale sibling that no longer pays is removed).
#[pyfunction]
#[pyo3(signature = (path, min_saving=0.05))]
pub fn precompress(py: Python<'_>, path: &str, min_saving: f64) -> PyResult<Vec<String>> {
    let path = PathBuf::from(path);
    py.detach(|| -> std::io::Result<Vec<String>> {
        let data = fs::read(&path)?;
        let mut written = Vec::new();
        for (ext, packed) in [(".gz", gzip(&data)?), (".br", brotli(&data)?)] {
            let target = sibling(&path, ext);
            if write_or_remove(&target, data.len(), &packed, min_saving)? {
                written.push(target.to_string_lossy().into_owned());
            }
        }
        Ok(written)
    })
    .map_err(|e| PyOSError::new_err(format!("cannot precompress {}: {e}", path.display())))
}
