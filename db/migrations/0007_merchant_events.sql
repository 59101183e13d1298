CREATE TABLE `merchant_events` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`type` enum('order.created','order.paid','order.cancelled','payment.conflict') NOT NULL,
	`order_id` bigint unsigned NOT NULL,
	`data` mediumtext NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`delivery_status` enum('pending','delivered','failed') NOT NULL DEFAULT 'pending',
	`attempts` int NOT NULL DEFAULT 0,
	`last_error` varchar(500),
	`next_attempt_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`lease_until` datetime(3),
	`lease_token` binary(16),
	`delivered_at` datetime(3),
	CONSTRAINT `merchant_events_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
ALTER TABLE `payment_events` ADD `resolved_at` datetime(3);--> statement-breakpoint
ALTER TABLE `payment_events` ADD `resolution` enum('refunded','ignored');--> statement-breakpoint
ALTER TABLE `payment_events` ADD `resolution_note` varchar(1000);--> statement-breakpoint
CREATE INDEX `merchant_events_delivery_id_idx` ON `merchant_events` (`delivery_status`,`id`);--> statement-breakpoint
CREATE INDEX `merchant_events_order_id_idx` ON `merchant_events` (`order_id`,`id`);--> statement-breakpoint
CREATE INDEX `merchant_events_delivered_at_idx` ON `merchant_events` (`delivery_status`,`delivered_at`);