//! The floor for the cold-start benchmark: the least a Rust Lambda with aws-sdk-dynamodb can be (one
//! GetItem per invocation), built with the same profile as the functions. Not deployed.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("TABLE_NAME")?;
    let (db, table) = (&db, &table);
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let key = aws_sdk_dynamodb::types::AttributeValue::S("none".into());
            let out = db
                .get_item()
                .table_name(table)
                .key("PK", key.clone())
                .key("SK", key)
                .send()
                .await?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({ "found": out.item.is_some() }))
        },
    ))
    .await
}
