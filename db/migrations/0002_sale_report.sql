ALTER TABLE `products` ADD `sold_out_at` datetime(3);--> statement-breakpoint
CREATE INDEX `payment_events_outcome_id_idx` ON `payment_events` (`outcome`,`id`);