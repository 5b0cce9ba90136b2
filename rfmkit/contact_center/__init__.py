"""Real-time churn in the contact center (notebook 09).

The flow, on both backends: a call arrives and the contact flow's lookup (`handlers.customer_lookup`)
finds the caller by phone number in the profile store, scores them, and sets the routing priority;
during the call Contact Lens sentiment rules fire EventBridge events (`handlers.sentiment_update`)
that update the caller's online features and re-score churn through the deployed model's endpoint;
the agent's page reads the contact's score history (`handlers.churn_history`) and offers contract
extensions (`handlers.update_contract`); the hang-up closes the contact (`handlers.contact_ended`).

Modules: `directory` (generated profiles, the VIP and routing rule), `events` (AWS event shapes),
`store` / `dynamodb` (profiles, contacts, prompts), `features` (offline and online feature store),
`handlers` (the Lambda-style functions), `server` (the local API and the agent's page),
`simulator` (replayed calls), `lambda_package` (the functions' deployment zip).
"""
