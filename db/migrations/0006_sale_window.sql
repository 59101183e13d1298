ALTER TABLE `products` ADD `sale_starts_at` datetime(3);--> statement-breakpoint
ALTER TABLE `products` ADD `sale_ends_at` datetime(3);--> statement-breakpoint
ALTER TABLE `products` ADD CONSTRAINT `products_sale_window` CHECK (`products`.`sale_ends_at` > `products`.`sale_starts_at`);