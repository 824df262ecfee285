//! The `fhir-bulk-publish` Lambda function (see template.yaml).

#[tokio::main]
async fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::http(shared::api::FHIR_BULK_PUBLISH).await
}
