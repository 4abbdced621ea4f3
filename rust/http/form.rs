//! multipart/form-data parsed in Rust while the body streams in: text fields are kept,
//! file parts stay in memory up to the spool threshold and go to a temporary file beyond
//! it (deleted with the request), and every limit is enforced before the body is read
//! whole.

use std::io::Write;

use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// Parts per request; beyond it the body is refused (a field-count flood is a DoS).
pub const MAX_PARTS: usize = 1000;
/// Largest text (non-file) field.
pub const MAX_TEXT_FIELD: u64 = 1024 * 1024;

pub enum PartData {
    Memory(Bytes),
    Spooled(tempfile::TempPath),
}

pub struct FilePart {
    pub name: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub size: u64,
    pub data: PartData,
}

#[derive(Default)]
pub struct ParsedForm {
    pub fields: Vec<(String, String)>,
    pub files: Vec<FilePart>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FormError {
    /// 400: the body is not valid multipart (or no boundary).
    Malformed(String),
    /// 413: over the body limit.
    TooLarge(usize),
}

pub struct FormLimits {
    pub max_body: usize,
    pub spool_threshold: usize,
}

pub fn boundary(content_type: &str) -> Result<String, FormError> {
    multer::parse_boundary(content_type).map_err(|_| {
        FormError::Malformed("multipart/form-data without a valid boundary".to_owned())
    })
}

fn map_err(err: multer::Error, limits: &FormLimits) -> FormError {
    match err {
        multer::Error::StreamSizeExceeded { .. } => FormError::TooLarge(limits.max_body),
        multer::Error::FieldSizeExceeded { field_name, .. } => FormError::Malformed(format!(
            "form field {:?} is larger than {} bytes",
            field_name.unwrap_or_default(),
            MAX_TEXT_FIELD
        )),
        multer::Error::StreamReadFailed(e) => {
            FormError::Malformed(format!("could not read the request body: {e}"))
        }
        other => FormError::Malformed(format!("invalid multipart body: {other}")),
    }
}

enum Sink {
    Memory(BytesMut),
    File(tempfile::NamedTempFile),
}

pub async fn parse_multipart(
    payload: web::Payload,
    boundary: String,
    limits: &FormLimits,
) -> Result<ParsedForm, FormError> {
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(limits.max_body as u64));
    // multer needs a Send stream and Actix's payload is thread-local: a local task feeds
    // the chunks through a small channel.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    actix_rt::spawn(async move {
        let mut payload = payload;
        while let Some(chunk) = payload.next().await {
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut form = ParsedForm::default();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| map_err(e, limits))?
    {
        if form.fields.len() + form.files.len() >= MAX_PARTS {
            return Err(FormError::Malformed(format!(
                "more than {MAX_PARTS} form fields"
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(|m| m.to_string());
        let headers = field
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        match filename {
            None => {
                let mut value = BytesMut::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| map_err(e, limits))? {
                    if (value.len() + chunk.len()) as u64 > MAX_TEXT_FIELD {
                        return Err(FormError::Malformed(format!(
                            "form field {name:?} is larger than {MAX_TEXT_FIELD} bytes"
                        )));
                    }
                    value.extend_from_slice(&chunk);
                }
                let value = String::from_utf8(value.to_vec()).map_err(|_| {
                    FormError::Malformed(format!("form field {name:?} is not valid UTF-8"))
                })?;
                form.fields.push((name, value));
            }
            Some(filename) => {
                let mut sink = Sink::Memory(BytesMut::new());
                let mut size: u64 = 0;
                while let Some(chunk) = field.chunk().await.map_err(|e| map_err(e, limits))? {
                    size += chunk.len() as u64;
                    if let Sink::Memory(buf) = &sink {
                        if buf.len() + chunk.len() > limits.spool_threshold {
                            let mut file = tempfile::Builder::new()
                                .prefix("bolt-upload-")
                                .tempfile()
                                .map_err(|e| {
                                    FormError::Malformed(format!("cannot spool upload: {e}"))
                                })?;
                            file.write_all(buf).map_err(|e| {
                                FormError::Malformed(format!("cannot spool upload: {e}"))
                            })?;
                            sink = Sink::File(file);
                        }
                    }
                    match &mut sink {
                        Sink::Memory(buf) => buf.extend_from_slice(&chunk),
                        Sink::File(file) => file.write_all(&chunk).map_err(|e| {
                            FormError::Malformed(format!("cannot spool upload: {e}"))
                        })?,
                    }
                }
                let data = match sink {
                    Sink::Memory(buf) => PartData::Memory(buf.freeze()),
                    Sink::File(mut file) => {
                        file.flush().map_err(|e| {
                            FormError::Malformed(format!("cannot spool upload: {e}"))
                        })?;
                        PartData::Spooled(file.into_temp_path())
                    }
                };
                form.files.push(FilePart {
                    name,
                    filename,
                    content_type,
                    headers,
                    size,
                    data,
                });
            }
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_boundary_or_refuses() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc123").unwrap(),
            "abc123"
        );
        assert!(matches!(
            boundary("multipart/form-data"),
            Err(FormError::Malformed(_))
        ));
    }
}
