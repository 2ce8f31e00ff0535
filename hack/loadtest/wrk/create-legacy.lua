-- create-legacy: POST /orders/createOrder, the original API (201).
require("loadtest").create("/orders/createOrder")
