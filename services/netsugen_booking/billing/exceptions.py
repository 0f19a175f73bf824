"""Billing's problem types (RFC 9457). Each is raised with an English and a Japanese detail."""

from __future__ import annotations

from shared.errors import ProblemError


class BillingError(ProblemError):
    status, slug, title = 400, "billing-error", "Billing error"


class InvalidVisitTimes(BillingError):
    status, slug, title = 422, "invalid-visit-times", "Invalid visit times"


class UnknownPlan(BillingError):
    status, slug, title = 422, "unknown-plan", "Unknown plan"


class NoTariff(BillingError):
    status, slug, title = 422, "no-tariff", "No price in effect"


class PeriodNotEnded(BillingError):
    status, slug, title = 422, "period-not-ended", "Billing period has not ended"


class InvalidPeriod(BillingError):
    status, slug, title = 422, "invalid-period", "Invalid billing period"


class InvoiceNotFound(BillingError):
    status, slug, title = 404, "invoice-not-found", "Invoice not found"


class InvoiceRunNotFound(BillingError):
    status, slug, title = 404, "invoice-run-not-found", "Invoice run not found"


class InvoiceNotDraft(BillingError):
    status, slug, title = 409, "invoice-not-draft", "Invoice is not a draft"


class InvoiceNotPayable(BillingError):
    status, slug, title = 409, "invoice-not-payable", "Invoice cannot take payments"


class InvoiceNotCreditable(BillingError):
    status, slug, title = 409, "invoice-not-creditable", "Invoice cannot be credited"


class Overpayment(BillingError):
    status, slug, title = 422, "overpayment", "Payment exceeds the balance"


class CreditExceedsInvoice(BillingError):
    status, slug, title = 422, "credit-exceeds-invoice", "Credit exceeds the invoice"


class InvalidDateRange(BillingError):
    status, slug, title = 422, "invalid-date-range", "Invalid date range"


class MoneyDateOutOfRange(BillingError):
    status, slug, title = 422, "money-date-out-of-range", "Payment or refund date out of range"


class RefundExceedsCredit(BillingError):
    status, slug, title = 422, "refund-exceeds-credit", "Refund exceeds what is owed to the member"


class PaymentNotFound(BillingError):
    status, slug, title = 404, "payment-not-found", "Payment not found"
