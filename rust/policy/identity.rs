//! An identity as Python sees it: `request.context`.

use pyo3::prelude::*;
use pyo3::types::{PyAny, PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::Value;

use crate::auth::identity::Identity;

pub fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                PyInt::new(py, i).into_any()
            } else if let Some(u) = n.as_u64() {
                PyInt::new(py, u).into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// `request.context`: the token's claims (custom ones included) plus what they grant.
pub fn identity_dict<'py>(py: Python<'py>, id: &Identity) -> PyResult<Bound<'py, PyDict>> {
    let dict = match &id.claims {
        Some(claims) => {
            let c = PyDict::new(py);
            for (k, v) in claims {
                c.set_item(k, json_to_py(py, v)?)?;
            }
            let dict = c.copy()?;
            dict.set_item("claims", c)?;
            dict
        }
        None => PyDict::new(py),
    };
    dict.set_item("auth_backend", id.backend)?;
    dict.set_item("user_id", id.user_id.as_deref())?;
    dict.set_item("is_staff", id.is_staff)?;
    dict.set_item("is_superuser", id.is_superuser)?;
    dict.set_item("permissions", PyList::new(py, &id.permissions)?)?;
    dict.set_item("roles", PyList::new(py, &id.roles)?)?;
    if let Some(name) = &id.key_name {
        dict.set_item("api_key_name", name)?;
    }
    Ok(dict)
}
