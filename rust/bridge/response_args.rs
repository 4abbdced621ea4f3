//! The arguments of Python's answers (`respond`, `respond_file`, `start_stream`,
//! `ws_accept`) as Rust values: bodies, headers, content types and dispositions.

use std::fmt;
use std::path::{Path, PathBuf};

use actix_http::header::{HeaderName, HeaderValue};
use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use bytes::Bytes;
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBytes, PyString};

/// Response headers as Python gave them, validated.
pub type HeaderList = Vec<(HeaderName, HeaderValue)>;

/// An answer argument Rust cannot send (ValueError).
#[derive(Debug)]
pub enum ResponseError {
    Disposition(String),
    HeaderName(String),
    HeaderValue { name: HeaderName, value: String },
    ContentType(String),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disposition(kind) => write!(
                f,
                "disposition must be 'attachment' or 'inline', not {kind:?}"
            ),
            Self::HeaderName(name) => write!(f, "invalid response header name {name:?}"),
            Self::HeaderValue { name, value } => {
                write!(f, "invalid value for response header {name}: {value:?}")
            }
            Self::ContentType(ct) => write!(f, "invalid content type {ct:?}"),
        }
    }
}

impl std::error::Error for ResponseError {}

impl From<ResponseError> for PyErr {
    fn from(e: ResponseError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}

/// A file `respond_file` cannot open; raised like `open()` would (OSError, or its
/// FileNotFoundError / PermissionError / IsADirectoryError subclasses).
#[derive(Debug)]
pub struct FileError {
    pub error: std::io::Error,
    pub path: PathBuf,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.path.display())
    }
}

impl std::error::Error for FileError {}

impl From<FileError> for PyErr {
    fn from(e: FileError) -> Self {
        let msg = e.to_string();
        match e.error.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
            _ => PyOSError::new_err(msg),
        }
    }
}

/// Opens `path` to be served (a directory is refused as `open()` would).
pub fn open_file(path: &Path) -> Result<actix_files::NamedFile, FileError> {
    let opened = if path.is_dir() {
        Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        ))
    } else {
        actix_files::NamedFile::open(path)
    };
    opened.map_err(|error| FileError {
        error,
        path: path.to_owned(),
    })
}

pub fn body_bytes(body: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = body.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(s) = body.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(s.to_str()?.as_bytes()));
    }
    if body.is_none() {
        return Ok(Bytes::new());
    }
    let b: Vec<u8> = body.extract()?;
    Ok(Bytes::from(b))
}

pub fn content_disposition(
    kind: &str,
    filename: &str,
) -> Result<ContentDisposition, ResponseError> {
    let disposition = match kind {
        "attachment" => DispositionType::Attachment,
        "inline" => DispositionType::Inline,
        other => return Err(ResponseError::Disposition(other.to_owned())),
    };
    // A plain ASCII name for old clients, and the exact UTF-8 name (RFC 6266) when needed.
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != filename {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".to_owned()),
            language_tag: None,
            value: filename.as_bytes().to_vec(),
        }));
    }
    Ok(ContentDisposition {
        disposition,
        parameters,
    })
}

fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ResponseError> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ResponseError::HeaderName(name.to_owned()))?;
    let value = HeaderValue::from_str(value).map_err(|_| ResponseError::HeaderValue {
        name: name.clone(),
        value: value.to_owned(),
    })?;
    Ok((name, value))
}

pub const JSON_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/json");

pub fn content_type_value(ct: &str) -> Result<HeaderValue, ResponseError> {
    if ct == "application/json" {
        return Ok(JSON_CONTENT_TYPE);
    }
    HeaderValue::from_str(ct).map_err(|_| ResponseError::ContentType(ct.to_owned()))
}

pub fn extract_headers(headers: Option<&Bound<'_, PyAny>>) -> PyResult<HeaderList> {
    let Some(headers) = headers else {
        return Ok(Vec::new());
    };
    if headers.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in headers.try_iter()? {
        let item = item?;
        let (name, value): (String, String) = item.extract()?;
        out.push(header_pair(&name, &value)?);
    }
    Ok(out)
}
