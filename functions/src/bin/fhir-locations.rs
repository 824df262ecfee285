//! The `fhir-locations` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::FHIR_LOCATIONS).await
}
