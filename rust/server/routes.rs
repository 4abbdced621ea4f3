//! The route table from Python's route list.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyAny;

use crate::policy::route_policy::RoutePolicy;
use crate::router::{RouteTable, RouteTarget};

/// Builds the route table from Python's `(method, path, route_id, blocking, policy)`
/// tuples (`policy` is a `RoutePolicy` or None).
pub fn build_routes(routes: &Bound<'_, PyAny>) -> PyResult<RouteTable> {
    let mut table = RouteTable::new();
    for item in routes.try_iter()? {
        let item = item?;
        let (method, path, route_id, blocking): (String, String, u32, bool) = (
            item.get_item(0)?.extract()?,
            item.get_item(1)?.extract()?,
            item.get_item(2)?.extract()?,
            item.get_item(3)?.extract()?,
        );
        let policy = match item.len()? {
            5 => {
                let p = item.get_item(4)?;
                if p.is_none() {
                    None
                } else {
                    Some(Arc::clone(&p.cast::<RoutePolicy>()?.get().core))
                }
            }
            _ => None,
        };
        table.insert(
            &method,
            &path,
            RouteTarget {
                route_id,
                blocking,
                policy,
            },
        )?;
    }
    Ok(table)
}
