CREATE TABLE `queue_tickets` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`product_id` bigint unsigned NOT NULL,
	`buyer_id` varbinary(512) NOT NULL,
	`position` int unsigned,
	`joined_at` datetime(3) NOT NULL,
	`admitted_at` datetime(3),
	`admitted_until` datetime(3),
	CONSTRAINT `queue_tickets_id` PRIMARY KEY(`id`),
	CONSTRAINT `queue_tickets_product_position_unique` UNIQUE(`product_id`,`position`)
);
--> statement-breakpoint
CREATE TABLE `waiting_rooms` (
	`product_id` bigint unsigned NOT NULL,
	`positions` int unsigned NOT NULL DEFAULT 0,
	`joined` int unsigned NOT NULL DEFAULT 0,
	`unplaced` int unsigned NOT NULL DEFAULT 0,
	`serving_base` int unsigned NOT NULL DEFAULT 0,
	`serving_since` datetime(3) NOT NULL,
	`rate` int unsigned NOT NULL,
	`materialized` int unsigned NOT NULL DEFAULT 0,
	`on_since` datetime(3),
	`ended_through` datetime(3),
	CONSTRAINT `waiting_rooms_product_id` PRIMARY KEY(`product_id`)
);
--> statement-breakpoint
ALTER TABLE `products` ADD `admit_per_second` int;--> statement-breakpoint
ALTER TABLE `products` ADD `admission_seconds` int;--> statement-breakpoint
ALTER TABLE `queue_tickets` ADD CONSTRAINT `queue_tickets_product_id_waiting_rooms_product_id_fk` FOREIGN KEY (`product_id`) REFERENCES `waiting_rooms`(`product_id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `waiting_rooms` ADD CONSTRAINT `waiting_rooms_product_id_products_id_fk` FOREIGN KEY (`product_id`) REFERENCES `products`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `queue_tickets_product_buyer_idx` ON `queue_tickets` (`product_id`,`buyer_id`,`id`);--> statement-breakpoint
CREATE INDEX `queue_tickets_product_until_idx` ON `queue_tickets` (`product_id`,`admitted_until`);--> statement-breakpoint
ALTER TABLE `products` ADD CONSTRAINT `products_waiting_room` CHECK ((`products`.`admit_per_second` IS NULL AND `products`.`admission_seconds` IS NULL) OR (`products`.`admit_per_second` BETWEEN 0 AND 100000 AND `products`.`admission_seconds` BETWEEN 10 AND 3600));