//! The `get-appointment` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http("get-appointment").await
}
