//! In-process test server: the same Actix service and route table as `Server`, driven
//! without a socket, so tests exercise the real Rust pipeline.

use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::test::{init_service, TestRequest};
use actix_web::{web, App, HttpMessage};
use pyo3::exceptions::{PyConnectionError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBytes, PyDict};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::dispatch::entry;
use super::gate::Forced;
use super::routes::build_routes;
use super::settings::ServerSettings;
use crate::auth::identity::Identity;
use crate::bridge::handle::Bridge;
use crate::staticfiles::static_files::StaticFiles;

/// (status, headers, body), or why the body broke off (a stream whose producer failed).
type Answer = Result<(u16, Vec<(String, Vec<u8>)>, Vec<u8>), String>;
type PyAnswer<'py> = (u16, Vec<(String, Bound<'py, PyBytes>)>, Bound<'py, PyBytes>);

struct Call {
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    client: String,
    forced: Option<Identity>,
    reply: std::sync::mpsc::Sender<Answer>,
}

/// The identity of `force_authenticate(user)`: the user's id and flags; its claims state
/// no permissions or roles, so guards ask Django about them.
fn forced_identity(spec: &Bound<'_, PyDict>) -> PyResult<Identity> {
    let text = |key: &str| -> PyResult<String> {
        spec.get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("forced identity needs {key:?}")))?
            .extract()
    };
    let flag = |key: &str| -> PyResult<bool> {
        Ok(match spec.get_item(key)? {
            Some(v) => v.is_truthy()?,
            None => false,
        })
    };
    let user_id = text("user_id")?;
    let (is_staff, is_superuser) = (flag("is_staff")?, flag("is_superuser")?);
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(user_id.clone()));
    claims.insert("username".into(), Value::String(text("username")?));
    claims.insert("is_staff".into(), Value::Bool(is_staff));
    claims.insert("is_superuser".into(), Value::Bool(is_superuser));
    claims.insert("jti".into(), Value::String("force-authenticated".into()));
    Ok(Identity {
        backend: "jwt",
        user_id: Some(user_id),
        is_staff,
        is_superuser,
        claims: Some(claims),
        ..Identity::default()
    })
}

#[pyclass(frozen, module = "django_bolt._core")]
pub struct TestApp {
    calls: mpsc::UnboundedSender<Call>,
}

#[pymethods]
impl TestApp {
    #[new]
    #[pyo3(signature = (routes, bridge, settings, static_files=Vec::new()))]
    fn new(
        routes: &Bound<'_, PyAny>,
        bridge: &Bridge,
        settings: &ServerSettings,
        static_files: Vec<PyRef<'_, StaticFiles>>,
    ) -> PyResult<Self> {
        let mut state = settings.app_state(
            build_routes(routes)?,
            Arc::clone(&bridge.core),
            Default::default(),
            tokio::sync::watch::channel(0).1,
            &static_files,
        )?;
        state.testing = true;
        let state = web::Data::new(state);
        let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
        std::thread::Builder::new()
            .name("bolt-test-app".into())
            .spawn(move || {
                let system = actix_rt::System::new();
                system.block_on(async move {
                    let app = Rc::new(
                        init_service(
                            App::new()
                                .app_data(state)
                                .default_service(actix_web::dev::fn_service(entry)),
                        )
                        .await,
                    );
                    while let Some(call) = rx.recv().await {
                        let app = Rc::clone(&app);
                        actix_rt::spawn(async move {
                            let is_head = call.method.eq_ignore_ascii_case("HEAD");
                            let mut req =
                                TestRequest::default().uri(&call.uri).set_payload(call.body);
                            if let Ok(m) =
                                actix_web::http::Method::from_bytes(call.method.as_bytes())
                            {
                                req = req.method(m);
                            }
                            if let Ok(addr) = call.client.parse() {
                                req = req.peer_addr(addr);
                            }
                            for (k, v) in call.headers {
                                req = req.append_header((k, v));
                            }
                            let request = req.to_request();
                            if let Some(id) = call.forced {
                                request.extensions_mut().insert(Forced(id));
                            }
                            let resp = actix_web::dev::Service::call(&*app, request).await;
                            let answer = match resp {
                                Ok(resp) => {
                                    let status = resp.status().as_u16();
                                    let mut headers: Vec<(String, Vec<u8>)> = resp
                                        .headers()
                                        .iter()
                                        .map(|(k, v)| {
                                            (k.as_str().to_owned(), v.as_bytes().to_vec())
                                        })
                                        .collect();
                                    // On the wire a HEAD answer states the length it
                                    // would have had.
                                    if let (true, BodySize::Sized(n)) =
                                        (is_head, resp.response().body().size())
                                    {
                                        if !resp.headers().contains_key(CONTENT_LENGTH) {
                                            headers.push((
                                                "content-length".to_owned(),
                                                n.to_string().into_bytes(),
                                            ));
                                        }
                                    }
                                    // On the wire a HEAD answer carries no body.
                                    match actix_web::body::to_bytes(resp.into_body()).await {
                                        Ok(_) if is_head => Ok((status, headers, Vec::new())),
                                        Ok(body) => Ok((status, headers, body.to_vec())),
                                        Err(e) => Err(e.to_string()),
                                    }
                                }
                                Err(e) => Ok((500, Vec::new(), e.to_string().into_bytes())),
                            };
                            let _ = call.reply.send(answer);
                        });
                    }
                })
            })?;
        Ok(Self { calls: tx })
    }

    /// Runs one request through the pipeline and returns (status, headers, body).
    /// `forced` ({"user_id", "username", "is_staff", "is_superuser"}) authenticates it.
    #[pyo3(signature = (method, uri, headers, body, client="127.0.0.1:50000", forced=None))]
    #[allow(clippy::too_many_arguments)]
    fn request<'py>(
        &self,
        py: Python<'py>,
        method: String,
        uri: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
        client: &str,
        forced: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<PyAnswer<'py>> {
        let forced = forced.map(forced_identity).transpose()?;
        let (reply, answer) = std::sync::mpsc::channel();
        self.calls
            .send(Call {
                method,
                uri,
                headers,
                body,
                client: client.to_owned(),
                forced,
                reply,
            })
            .map_err(|_| PyRuntimeError::new_err("the test app has stopped"))?;
        let (status, headers, body) = py
            .detach(move || answer.recv())
            .map_err(|_| PyRuntimeError::new_err("the test app dropped the request"))?
            .map_err(|why| {
                PyConnectionError::new_err(format!("the response body broke off: {why}"))
            })?;
        let headers = headers
            .into_iter()
            .map(|(k, v)| (k, PyBytes::new(py, &v)))
            .collect();
        Ok((status, headers, PyBytes::new(py, &body)))
    }
}
