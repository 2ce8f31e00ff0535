-- fetch: GET /orders/fetchOrder/{id} of orders picked at random among ids= (200).
require("loadtest").read("/orders/fetchOrder/%d")
