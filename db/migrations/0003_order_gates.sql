CREATE TABLE `order_gates` (
	`order_id` bigint unsigned NOT NULL,
	`writes` int unsigned NOT NULL DEFAULT 1,
	CONSTRAINT `order_gates_order_id` PRIMARY KEY(`order_id`)
);
