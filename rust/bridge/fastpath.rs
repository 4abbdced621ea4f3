//! The success path of an async route, run from Rust in one pass per batch of jobs.
//!
//! A `FastPlan` is compiled once per route from the Python extraction plan. For each job
//! it builds the handler's keyword arguments (path, query and header values coerced in
//! Rust; a JSON body through the route's msgspec decoder), calls the handler, steps the
//! coroutine once without raising StopIteration, and answers a plain dict or list result
//! with msgspec-encoded JSON. Anything else (a value that does not coerce, a coroutine that
//! suspends, an exception, another result type) goes to the Python dispatcher, which
//! redoes extraction with full error reporting; extraction has no side effects, so
//! starting over is safe.

use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyDict, PyList, PyString, PyTuple};

use actix_http::header::CONTENT_TYPE;

use super::job::Job;
use super::parts::{Reply, RequestParts};
use super::response_args::JSON_CONTENT_TYPE;
use crate::http::form::MAX_PARTS;

enum Source {
    Path,
    Query,
    Header,
    /// A field of an urlencoded body, or a text part of a multipart one.
    Form,
}

enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// A Python callable taking the raw string (UUID, enums, constrained values...).
    Convert(Py<PyAny>),
}

struct ValueArg {
    source: Source,
    key: String,
    kind: Kind,
    required: bool,
    default: Py<PyAny>,
    /// `X | None` query values: an empty string means None.
    empty_is_none: bool,
}

enum Arg {
    Value(ValueArg),
    /// The request object, built by this Python callable from the job.
    Request(Py<PyAny>),
    /// The JSON body through this decoder's `decode`.
    Body {
        decode: Py<PyAny>,
        required: bool,
        default: Py<PyAny>,
    },
}

#[pyclass(frozen, module = "django_bolt._core")]
pub struct FastPlan {
    handler: Py<PyAny>,
    args: Vec<(Py<PyString>, Arg)>,
    status: u16,
    /// No declared response type: a dict or list result is encoded as it is.
    plain_json: bool,
    /// Results that are instances of this class are encoded as they are too: msgspec
    /// Structs without a declared type, or the declared class itself (what the route's
    /// check would let through unchanged).
    passthrough: Option<Py<PyAny>>,
    encode: Py<PyAny>,
}

fn parse_source(s: &str) -> PyResult<Source> {
    match s {
        "path" => Ok(Source::Path),
        "query" => Ok(Source::Query),
        "header" => Ok(Source::Header),
        "form" => Ok(Source::Form),
        other => Err(PyValueError::new_err(format!(
            "unsupported source {other:?}"
        ))),
    }
}

#[pymethods]
impl FastPlan {
    /// `args` holds one tuple per handler argument:
    /// `("value", name, source, key, kind, required, default, empty_is_none, converter)`,
    /// `("request", name, factory)` or `("body", name, decode, required, default)`.
    #[new]
    #[pyo3(signature = (handler, args, status, plain_json, encode, passthrough=None))]
    fn new(
        py: Python<'_>,
        handler: Py<PyAny>,
        args: &Bound<'_, PyList>,
        status: u16,
        plain_json: bool,
        encode: Py<PyAny>,
        passthrough: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let mut compiled = Vec::with_capacity(args.len());
        for item in args.iter() {
            let tuple = item.cast::<PyTuple>()?;
            let tag: String = tuple.get_item(0)?.extract()?;
            let name: Bound<'_, PyString> = tuple.get_item(1)?.cast_into::<PyString>()?;
            let name = PyString::intern(py, name.to_str()?).unbind();
            let arg = match tag.as_str() {
                "value" => {
                    let source = parse_source(&tuple.get_item(2)?.extract::<String>()?)?;
                    let key: String = tuple.get_item(3)?.extract()?;
                    let kind = match tuple.get_item(4)?.extract::<String>()?.as_str() {
                        "str" => Kind::Str,
                        "int" => Kind::Int,
                        "float" => Kind::Float,
                        "bool" => Kind::Bool,
                        _ => Kind::Convert(tuple.get_item(8)?.unbind()),
                    };
                    Arg::Value(ValueArg {
                        source,
                        key,
                        kind,
                        required: tuple.get_item(5)?.extract()?,
                        default: tuple.get_item(6)?.unbind(),
                        empty_is_none: tuple.get_item(7)?.extract()?,
                    })
                }
                "request" => Arg::Request(tuple.get_item(2)?.unbind()),
                "body" => Arg::Body {
                    decode: tuple.get_item(2)?.unbind(),
                    required: tuple.get_item(3)?.extract()?,
                    default: tuple.get_item(4)?.unbind(),
                },
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown argument kind {other:?}"
                    )))
                }
            };
            compiled.push((name, arg));
        }
        Ok(Self {
            handler,
            args: compiled,
            status,
            plain_json,
            passthrough,
            encode,
        })
    }
}

fn parse_int(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// No Content-Type, or a JSON one (application/json, application/*+json).
fn json_content_type(parts: &RequestParts) -> bool {
    let Some(value) = parts.headers.get(CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let media = value.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
        || (media.len() > 17
            && media[..12].eq_ignore_ascii_case("application/")
            && media[media.len() - 5..].eq_ignore_ascii_case("+json"))
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Why the fast path stopped; the Python dispatcher takes over.
enum Handoff {
    /// Start over in Python (bad input, unusual argument).
    Slow,
    /// The handler raised: the exception is set in the interpreter.
    Raised(PyErr),
}

struct Query<'a> {
    raw: &'a str,
    pairs: Option<Vec<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>>,
}

impl<'a> Query<'a> {
    fn get(&mut self, key: &str) -> Option<&str> {
        if self.raw.is_empty() {
            return None;
        }
        let raw = self.raw;
        let pairs = self
            .pairs
            .get_or_insert_with(|| form_urlencoded::parse(raw.as_bytes()).collect());
        // The last value wins, as in Request.query.
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }
}

/// The form fields of a request, read on first use: the text parts Rust parsed from a
/// multipart body, or the pairs of an urlencoded one. Anything else with a body (a
/// refusal to word, more fields than a form may have) is left to Python.
struct Form<'a> {
    parts: &'a RequestParts,
    pairs: Option<Vec<(std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>>,
}

impl<'a> Form<'a> {
    fn get(&mut self, key: &str) -> Result<Option<&str>, Handoff> {
        if self.pairs.is_none() {
            let parts = self.parts;
            let pairs: Vec<_> = match &parts.form {
                Some(form) => form
                    .fields
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                    .collect(),
                None if parts.body.is_empty() => Vec::new(),
                None if urlencoded(parts) => form_urlencoded::parse(&parts.body)
                    .take(MAX_PARTS + 1)
                    .collect(),
                None => return Err(Handoff::Slow),
            };
            if pairs.len() > MAX_PARTS {
                return Err(Handoff::Slow);
            }
            self.pairs = Some(pairs);
        }
        // The last value wins, as in Request.form_lists.
        Ok(self.pairs.as_ref().and_then(|pairs| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_ref())
        }))
    }
}

fn urlencoded(parts: &RequestParts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn convert<'py>(py: Python<'py>, arg: &ValueArg, raw: &str) -> Result<Bound<'py, PyAny>, Handoff> {
    if raw.is_empty() && arg.empty_is_none {
        return Ok(py.None().into_bound(py));
    }
    Ok(match &arg.kind {
        Kind::Str => PyString::new(py, raw).into_any(),
        Kind::Int => parse_int(raw)
            .ok_or(Handoff::Slow)?
            .into_pyobject(py)
            .map(|v| v.into_any())
            .unwrap_or_else(|never| match never {}),
        Kind::Float => {
            pyo3::types::PyFloat::new(py, raw.parse::<f64>().map_err(|_| Handoff::Slow)?).into_any()
        }
        Kind::Bool => pyo3::types::PyBool::new(py, parse_bool(raw).ok_or(Handoff::Slow)?)
            .to_owned()
            .into_any(),
        Kind::Convert(f) => f.bind(py).call1((raw,)).map_err(|_| Handoff::Slow)?,
    })
}

/// The keyword arguments, and the request object when the handler takes one.
type Built<'py> = (Bound<'py, PyDict>, Option<Bound<'py, PyAny>>);

fn build_kwargs<'py>(
    py: Python<'py>,
    plan: &FastPlan,
    job: &Bound<'py, Job>,
) -> Result<Built<'py>, Handoff> {
    let kwargs = PyDict::new(py);
    let mut request = None;
    let parts = &job.get().parts;
    let mut query = Query {
        raw: parts.query(),
        pairs: None,
    };
    let mut form = Form { parts, pairs: None };
    for (name, arg) in &plan.args {
        let value = match arg {
            Arg::Value(v) => {
                let raw: Option<&str> = match v.source {
                    Source::Path => parts
                        .params
                        .iter()
                        .find(|(k, _)| *k == v.key)
                        .map(|(_, val)| val.as_str()),
                    Source::Query => query.get(&v.key),
                    Source::Header => match parts.headers.get(v.key.as_str()) {
                        Some(h) => Some(h.to_str().map_err(|_| Handoff::Slow)?),
                        None => None,
                    },
                    Source::Form => form.get(&v.key)?,
                };
                match raw {
                    Some(raw) => convert(py, v, raw)?,
                    None if v.required => return Err(Handoff::Slow),
                    None => v.default.bind(py).clone(),
                }
            }
            Arg::Request(factory) => {
                let made = factory.bind(py).call1((job,)).map_err(Handoff::Raised)?;
                request = Some(made.clone());
                made
            }
            Arg::Body {
                decode,
                required,
                default,
            } => {
                if parts.body.is_empty() {
                    if *required {
                        return Err(Handoff::Slow);
                    }
                    default.bind(py).clone()
                } else if !json_content_type(parts) {
                    return Err(Handoff::Slow);
                } else {
                    let body = pyo3::types::PyBytes::new(py, &parts.body);
                    decode.bind(py).call1((body,)).map_err(|_| Handoff::Slow)?
                }
            }
        };
        kwargs
            .set_item(name.bind(py), value)
            .map_err(Handoff::Raised)?;
    }
    Ok((kwargs, request))
}

enum Step<'py> {
    Done(Bound<'py, PyAny>),
    Suspended(Bound<'py, PyAny>, Bound<'py, PyAny>),
}

/// One `coro.send(None)` through PyIter_Send, so a finished coroutine does not raise.
fn step<'py>(py: Python<'py>, coro: Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    let mut out: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: `coro` is a live object; PyIter_Send returns a new reference in `out`
    // for RETURN and NEXT, and sets an exception for ERROR.
    let status = unsafe { ffi::PyIter_Send(coro.as_ptr(), ffi::Py_None(), &mut out) };
    match status {
        ffi::PySendResult::PYGEN_RETURN => {
            // SAFETY: new reference per the contract above.
            Ok(Step::Done(unsafe { Bound::from_owned_ptr(py, out) }))
        }
        ffi::PySendResult::PYGEN_NEXT => {
            // SAFETY: new reference per the contract above.
            let yielded = unsafe { Bound::from_owned_ptr(py, out) };
            Ok(Step::Suspended(coro, yielded))
        }
        _ => Err(PyErr::fetch(py)),
    }
}

/// A fresh copy of the current contextvars context, entered for the job's first step.
struct EnteredContext<'py> {
    ctx: Bound<'py, PyAny>,
    entered: bool,
}

impl<'py> EnteredContext<'py> {
    fn enter(py: Python<'py>) -> PyResult<Self> {
        // SAFETY: returns a new reference or NULL with an exception set.
        let ptr = unsafe { ffi::PyContext_CopyCurrent() };
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: `ptr` is a new, non-null reference.
        let ctx = unsafe { Bound::from_owned_ptr(py, ptr) };
        // SAFETY: `ctx` is a Context object created above.
        if unsafe { ffi::PyContext_Enter(ctx.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(Self { ctx, entered: true })
    }
}

impl Drop for EnteredContext<'_> {
    fn drop(&mut self) {
        if self.entered {
            // SAFETY: the context was entered by `enter` on this thread.
            unsafe { ffi::PyContext_Exit(self.ctx.as_ptr()) };
        }
    }
}

fn run_one<'py>(
    py: Python<'py>,
    plan: &FastPlan,
    job: &Bound<'py, Job>,
    host: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let ctx = EnteredContext::enter(py)?;
    let (kwargs, request) = match build_kwargs(py, plan, job) {
        Ok(built) => built,
        Err(Handoff::Slow) => {
            drop(ctx);
            host.call_method1("run_slow", (job,))?;
            return Ok(());
        }
        Err(Handoff::Raised(err)) => {
            let context = ctx.ctx.clone();
            drop(ctx);
            host.call_method1("fail", (job, err.value(py), context))?;
            return Ok(());
        }
    };
    let handler = plan.handler.bind(py);
    let called = if plan.args.is_empty() {
        handler.call0()
    } else {
        handler.call((), Some(&kwargs))
    };
    let outcome = called.and_then(|coro| step(py, coro));
    let context = ctx.ctx.clone();
    drop(ctx);
    match outcome {
        Err(err) => {
            host.call_method1("fail", (job, err.value(py), context, &request))?;
        }
        Ok(Step::Suspended(coro, yielded)) => {
            host.call_method1("suspended", (job, coro, yielded, context, request))?;
        }
        Ok(Step::Done(result)) => {
            // A handler that used the session needs it saved and the cookie set.
            let session_used = match &request {
                Some(r) => !r.getattr(intern!(py, "loaded_session"))?.is_none(),
                None => false,
            };
            if session_used {
                host.call_method1("finish", (job, result, request))?;
            } else if (plan.plain_json
                && (result.is_exact_instance_of::<PyDict>()
                    || result.is_exact_instance_of::<PyList>()))
                || match &plan.passthrough {
                    Some(cls) => result.is_instance(cls.bind(py))?,
                    None => false,
                }
            {
                match plan.encode.bind(py).call1((&result,)) {
                    Ok(encoded) => {
                        let body = encoded.cast::<pyo3::types::PyBytes>()?;
                        job.get().send_reply(Reply::Full {
                            status: plan.status,
                            headers: vec![(CONTENT_TYPE, JSON_CONTENT_TYPE)],
                            body: Bytes::copy_from_slice(body.as_bytes()),
                        });
                    }
                    Err(err) => {
                        host.call_method1("fail", (job, err.value(py), context, &request))?;
                    }
                }
            } else {
                host.call_method1("finish", (job, result))?;
            }
        }
    }
    Ok(())
}

pub fn run_ready(
    py: Python<'_>,
    jobs: Vec<Job>,
    plans: &Bound<'_, PyList>,
    host: &Bound<'_, PyAny>,
) -> PyResult<usize> {
    {
        let count = jobs.len();
        for job in jobs {
            let route_id = job.parts.route_id;
            // Python authentication or guards still to run: the dispatcher's path does it.
            let gated = job.parts.python_gate || job.parts.websocket.is_some();
            let job = Bound::new(py, job)?;
            let plan = if route_id >= 0 && !gated {
                plans.get_item(route_id as usize).ok()
            } else {
                None
            };
            let result = match plan.as_ref().and_then(|p| p.cast::<FastPlan>().ok()) {
                Some(plan) => run_one(py, plan.get(), &job, host),
                None => host.call_method1("run_slow", (&job,)).map(|_| ()),
            };
            if let Err(err) = result {
                // The dispatcher itself failed: report it and answer, so no client hangs.
                err.write_unraisable(py, Some(&job));
                job.get().send_reply(Reply::Full {
                    status: 500,
                    headers: vec![(CONTENT_TYPE, JSON_CONTENT_TYPE)],
                    body: Bytes::from_static(b"{\"detail\":\"Internal Server Error\"}"),
                });
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ints_strictly() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-7"), Some(-7));
        assert_eq!(parse_int("+3"), Some(3));
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("1_000"), None);
        assert_eq!(parse_int(" 1"), None);
        assert_eq!(parse_int("١"), None);
        assert_eq!(parse_int("99999999999999999999"), None);
    }

    #[test]
    fn parses_bools() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn query_last_value_wins_and_decodes() {
        let mut q = Query {
            raw: "a=1&b=x+y&a=2&c=%C3%A9",
            pairs: None,
        };
        assert_eq!(q.get("a"), Some("2"));
        assert_eq!(q.get("b"), Some("x y"));
        assert_eq!(q.get("c"), Some("é"));
        assert_eq!(q.get("d"), None);
    }
}
