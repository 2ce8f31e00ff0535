-- create-v1: POST /api/v1/orders, the resource API (201).
require("loadtest").create("/api/v1/orders")
