DROP TABLE order_access_codes;
DROP TABLE order_status_history;
DROP TABLE orders;
