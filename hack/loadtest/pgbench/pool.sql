-- pool: the orders that update.sql moves, inserted once before the runs.
INSERT INTO orders (customer_name, item, quantity, status)
  SELECT 'loadtest', 'Laptop', 1, 'PENDING' FROM generate_series(1, :pool);
