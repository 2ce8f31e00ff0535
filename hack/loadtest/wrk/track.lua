-- track: GET /track/{id} on tracking-service, orders picked at random among ids= (200).
require("loadtest").read("/track/%d")
