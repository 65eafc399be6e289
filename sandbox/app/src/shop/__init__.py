"""The boutique shop: products, customers, sales, credit payments, invoices and reports."""
