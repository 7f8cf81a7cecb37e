/* eslint-disable */
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = T | null | undefined;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An integer that may exceed 32 bits; serialized as a JSON number. Inputs accept a number or a string of digits. */
  BigInt: { input: number; output: number; }
  DateTime: { input: string; output: string; }
  /** A decimal number as a string, e.g. "0.0004". Inputs accept a string or a number. */
  Decimal: { input: string; output: string; }
  /** The `JSON` scalar type represents JSON values as specified by [ECMA-404](https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf). */
  JSON: { input: unknown; output: unknown; }
};

export type AdvanceTestClockInput = {
  /** Must be later than the clock's current frozenTime. */
  frozenTime: Scalars['DateTime']['input'];
  testClockId: Scalars['ID']['input'];
};

export type AggregationFormula =
  | 'COUNT'
  | 'LAST'
  /** Largest value in the window or period. */
  | 'MAX'
  | 'SUM'
  /** Number of distinct values of valuePayloadKey (compared as strings) in the window or period. */
  | 'UNIQUE_COUNT';

export type ApiKey = Node & {
  __typename?: 'ApiKey';
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  /** First characters of the secret, for recognition. */
  prefix: Scalars['String']['output'];
  revokedAt?: Maybe<Scalars['DateTime']['output']>;
  scopes: Array<ApiKeyScope>;
};

export type ApiKeyPayload = {
  __typename?: 'ApiKeyPayload';
  apiKey?: Maybe<ApiKey>;
  userErrors: Array<UserError>;
};

export type ApiKeyScope =
  /** everything */
  | 'ADMIN'
  /** queries only */
  | 'READ'
  /** recordMeterEvent(s) and cancelMeterEvent only */
  | 'USAGE_WRITE';

export type AttachPaymentMethodInput = {
  customerId: Scalars['ID']['input'];
  /** A test payment method (see CreateCustomerInput.paymentMethod); required unless stripePaymentMethodId is given. */
  paymentMethod?: InputMaybe<Scalars['String']['input']>;
  /** The customer's id at Stripe (cus_...): charged with MB_PAYMENT_PROVIDER=stripe. */
  stripeCustomerId?: InputMaybe<Scalars['String']['input']>;
  /** A PaymentMethod id at Stripe (pm_...) saved on stripeCustomerId: what MB_PAYMENT_PROVIDER=stripe charges, off-session. */
  stripePaymentMethodId?: InputMaybe<Scalars['String']['input']>;
};

export type BillingAlert = Node & {
  __typename?: 'BillingAlert';
  createdAt: Scalars['DateTime']['output'];
  /** Null: every customer. */
  customer?: Maybe<Customer>;
  /** alrt_... */
  id: Scalars['ID']['output'];
  meter: Meter;
  status: BillingAlertStatus;
  /** Triggers when a customer's usage in its current billing period reaches this (>=). */
  threshold: Scalars['Decimal']['output'];
  title: Scalars['String']['output'];
};

export type BillingAlertIdInput = {
  id: Scalars['ID']['input'];
};

export type BillingAlertPayload = {
  __typename?: 'BillingAlertPayload';
  billingAlert?: Maybe<BillingAlert>;
  userErrors: Array<UserError>;
};

export type BillingAlertStatus =
  | 'ACTIVE'
  | 'ARCHIVED';

export type BillingAlertTrigger = {
  __typename?: 'BillingAlertTrigger';
  alert: BillingAlert;
  customer: Customer;
  periodStart: Scalars['DateTime']['output'];
  triggeredAt: Scalars['DateTime']['output'];
  /** Usage in the period when it triggered (>= threshold). */
  value: Scalars['Decimal']['output'];
};

export type BillingAlertTriggerConnection = {
  __typename?: 'BillingAlertTriggerConnection';
  edges: Array<BillingAlertTriggerEdge>;
  pageInfo: PageInfo;
};

export type BillingAlertTriggerEdge = {
  __typename?: 'BillingAlertTriggerEdge';
  cursor: Scalars['String']['output'];
  node: BillingAlertTrigger;
};

export type BillingMode =
  | 'CLASSIC'
  | 'FLEXIBLE';

export type BillingReason =
  | 'MANUAL'
  | 'SUBSCRIPTION_CANCEL'
  | 'SUBSCRIPTION_CREATE'
  | 'SUBSCRIPTION_CYCLE'
  | 'SUBSCRIPTION_UPDATE'
  | 'UPCOMING';

export type BillingScheme =
  | 'PER_UNIT'
  | 'TIERED';

export type BillingSettings = {
  __typename?: 'BillingSettings';
  /** Default LEAVE_OPEN. */
  invoiceAfterRetries: DunningInvoiceAction;
  /** Retry k+1 happens paymentRetryDays[k] days after attempt k+1 failed; default [3, 5, 7]. */
  paymentRetryDays: Array<Scalars['Int']['output']>;
  /** Default CANCEL. */
  subscriptionAfterRetries: DunningSubscriptionAction;
};

export type BillingSettingsPayload = {
  __typename?: 'BillingSettingsPayload';
  billingSettings?: Maybe<BillingSettings>;
  userErrors: Array<UserError>;
};

export type CancelMeterEventInput = {
  eventName: Scalars['String']['input'];
  identifier: Scalars['String']['input'];
};

export type CancelMeterEventPayload = {
  __typename?: 'CancelMeterEventPayload';
  meterEvent?: Maybe<MeterEvent>;
  userErrors: Array<UserError>;
};

export type CancelSubscriptionInput = {
  /** true: stay active until currentPeriodEnd, then cancel with a final cycle invoice. */
  atPeriodEnd?: InputMaybe<Scalars['Boolean']['input']>;
  /** When cancelling now: invoice the usage not yet invoiced immediately. */
  invoiceNow?: InputMaybe<Scalars['Boolean']['input']>;
  /** When cancelling now: credit the unused time of licensed items on the final invoice. */
  prorate?: InputMaybe<Scalars['Boolean']['input']>;
  subscriptionId: Scalars['ID']['input'];
};

export type CollectionMethod =
  | 'CHARGE_AUTOMATICALLY'
  | 'SEND_INVOICE';

export type CreateApiKeyInput = {
  name: Scalars['String']['input'];
  scopes: Array<ApiKeyScope>;
};

export type CreateApiKeyPayload = {
  __typename?: 'CreateApiKeyPayload';
  apiKey?: Maybe<ApiKey>;
  /** Shown once; only a hash is stored. */
  secret?: Maybe<Scalars['String']['output']>;
  userErrors: Array<UserError>;
};

export type CreateBillingAlertInput = {
  customerId?: InputMaybe<Scalars['ID']['input']>;
  meterId: Scalars['ID']['input'];
  /** Positive. */
  threshold: Scalars['Decimal']['input'];
  title: Scalars['String']['input'];
};

export type CreateCreditGrantInput = {
  /** Positive, minor units. */
  amount: Scalars['BigInt']['input'];
  category?: InputMaybe<CreditGrantCategory>;
  currency: Scalars['String']['input'];
  customerId: Scalars['ID']['input'];
  /** Defaults to now (the customer's clock). */
  effectiveAt?: InputMaybe<Scalars['DateTime']['input']>;
  expiresAt?: InputMaybe<Scalars['DateTime']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
  priceIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  priority?: InputMaybe<Scalars['Int']['input']>;
};

export type CreateCustomerBalanceTransactionInput = {
  /** Non-zero; negative credits the customer. */
  amount: Scalars['BigInt']['input'];
  currency: Scalars['String']['input'];
  customerId: Scalars['ID']['input'];
  description?: InputMaybe<Scalars['String']['input']>;
};

export type CreateCustomerInput = {
  description?: InputMaybe<Scalars['String']['input']>;
  email?: InputMaybe<Scalars['String']['input']>;
  externalId?: InputMaybe<Scalars['String']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
  /** A test payment method: pm_card_visa (succeeds) or pm_card_chargeDeclined (declines). */
  paymentMethod?: InputMaybe<Scalars['String']['input']>;
  /** The customer's id at Stripe (cus_...): charged with MB_PAYMENT_PROVIDER=stripe. */
  stripeCustomerId?: InputMaybe<Scalars['String']['input']>;
  /** A PaymentMethod id at Stripe (pm_...) saved on stripeCustomerId: what MB_PAYMENT_PROVIDER=stripe charges, off-session. */
  stripePaymentMethodId?: InputMaybe<Scalars['String']['input']>;
  testClockId?: InputMaybe<Scalars['ID']['input']>;
};

export type CreateMeterInput = {
  aggregation: AggregationFormula;
  customerMappingType?: InputMaybe<CustomerMappingType>;
  customerPayloadKey?: InputMaybe<Scalars['String']['input']>;
  dimensionKeys?: InputMaybe<Array<Scalars['String']['input']>>;
  displayName: Scalars['String']['input'];
  eventName: Scalars['String']['input'];
  valuePayloadKey?: InputMaybe<Scalars['String']['input']>;
};

export type CreatePriceInput = {
  billingScheme?: InputMaybe<BillingScheme>;
  /** ISO-4217, lower case. */
  currency: Scalars['String']['input'];
  nickname?: InputMaybe<Scalars['String']['input']>;
  productId: Scalars['ID']['input'];
  recurring: RecurringInput;
  tiers?: InputMaybe<Array<PriceTierInput>>;
  /** TIERED: required, with at least one tier; upTo strictly increasing; last tier open-ended. */
  tiersMode?: InputMaybe<TiersMode>;
  /** PER_UNIT only. */
  transformQuantity?: InputMaybe<TransformQuantityInput>;
  /** PER_UNIT: exactly one of unitAmount / unitAmountDecimal. */
  unitAmount?: InputMaybe<Scalars['BigInt']['input']>;
  unitAmountDecimal?: InputMaybe<Scalars['Decimal']['input']>;
};

export type CreateProductInput = {
  description?: InputMaybe<Scalars['String']['input']>;
  name: Scalars['String']['input'];
};

export type CreateSubscriptionInput = {
  /** Start in the past; the first invoice covers the backdated time. */
  backdateStartDate?: InputMaybe<Scalars['DateTime']['input']>;
  /** Defaults to the start date. */
  billingCycleAnchor?: InputMaybe<Scalars['DateTime']['input']>;
  billingMode?: InputMaybe<BillingMode>;
  collectionMethod?: InputMaybe<CollectionMethod>;
  customerId: Scalars['ID']['input'];
  daysUntilDue?: InputMaybe<Scalars['Int']['input']>;
  /** All prices share one currency and one recurring interval. */
  items: Array<SubscriptionItemInput>;
};

export type CreateTestClockInput = {
  frozenTime: Scalars['DateTime']['input'];
  name?: InputMaybe<Scalars['String']['input']>;
};

export type CreateWebhookEndpointInput = {
  description?: InputMaybe<Scalars['String']['input']>;
  enabledEvents?: InputMaybe<Array<Scalars['String']['input']>>;
  /** http or https. */
  url: Scalars['String']['input'];
};

export type CreateWebhookEndpointPayload = {
  __typename?: 'CreateWebhookEndpointPayload';
  /** whsec_ + base64 of 24 or more random bytes; shown once. */
  secret?: Maybe<Scalars['String']['output']>;
  userErrors: Array<UserError>;
  webhookEndpoint?: Maybe<WebhookEndpoint>;
};

export type CreditApplication = {
  __typename?: 'CreditApplication';
  /** Minor units taken from the grant by this invoice. */
  amount: Scalars['BigInt']['output'];
  creditGrant: CreditGrant;
};

export type CreditGrant = Node & {
  __typename?: 'CreditGrant';
  /** Granted, minor units. */
  amount: Scalars['BigInt']['output'];
  /** Not yet applied to an invoice, minor units (also after expiry or voiding, for the record). */
  availableAmount: Scalars['BigInt']['output'];
  category: CreditGrantCategory;
  createdAt: Scalars['DateTime']['output'];
  currency: Scalars['String']['output'];
  customer: Customer;
  effectiveAt: Scalars['DateTime']['output'];
  expiresAt?: Maybe<Scalars['DateTime']['output']>;
  /** credgr_... */
  id: Scalars['ID']['output'];
  name?: Maybe<Scalars['String']['output']>;
  /** Prices it may pay for; empty means every METERED price in its currency. */
  priceIds: Array<Scalars['ID']['output']>;
  /** 0 to 100; lower is applied first. Default 50. */
  priority: Scalars['Int']['output'];
  voidedAt?: Maybe<Scalars['DateTime']['output']>;
};

export type CreditGrantCategory =
  | 'PAID'
  | 'PROMOTIONAL';

export type CreditGrantConnection = {
  __typename?: 'CreditGrantConnection';
  edges: Array<CreditGrantEdge>;
  pageInfo: PageInfo;
};

export type CreditGrantEdge = {
  __typename?: 'CreditGrantEdge';
  cursor: Scalars['String']['output'];
  node: CreditGrant;
};

export type CreditGrantIdInput = {
  id: Scalars['ID']['input'];
};

export type CreditGrantPayload = {
  __typename?: 'CreditGrantPayload';
  creditGrant?: Maybe<CreditGrant>;
  userErrors: Array<UserError>;
};

export type Customer = Node & {
  __typename?: 'Customer';
  /** Stripe's customer balance, minor units of balanceCurrency: negative is credit the customer holds (taken by the next invoices), positive is debt the next invoice adds. */
  balance: Scalars['BigInt']['output'];
  /** Null until the first balance transaction. */
  balanceCurrency?: Maybe<Scalars['String']['output']>;
  /** Newest first. */
  balanceTransactions: CustomerBalanceTransactionConnection;
  createdAt: Scalars['DateTime']['output'];
  /** Sum of availableAmount over grants in effect now (customer's clock), not expired or voided. */
  creditBalance: Scalars['BigInt']['output'];
  /** Newest first. */
  creditGrants: CreditGrantConnection;
  /** Default payment method, e.g. pm_card_visa; null when none is on file. */
  defaultPaymentMethod?: Maybe<Scalars['String']['output']>;
  description?: Maybe<Scalars['String']['output']>;
  email?: Maybe<Scalars['String']['output']>;
  /** The caller's own key for this customer; unique per account. */
  externalId?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  name?: Maybe<Scalars['String']['output']>;
  /** The customer's id at Stripe (cus_...); null when none is set. */
  stripeCustomerId?: Maybe<Scalars['String']['output']>;
  /** The Stripe PaymentMethod (pm_...) that MB_PAYMENT_PROVIDER=stripe charges; null when none is set. */
  stripePaymentMethodId?: Maybe<Scalars['String']['output']>;
  testClock?: Maybe<TestClock>;
};


export type CustomerBalanceTransactionsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type CustomerCreditBalanceArgs = {
  currency: Scalars['String']['input'];
};


export type CustomerCreditGrantsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type CustomerBalanceTransaction = Node & {
  __typename?: 'CustomerBalanceTransaction';
  /** Minor units; negative adds credit, positive adds debt (Stripe's sign convention). */
  amount: Scalars['BigInt']['output'];
  createdAt: Scalars['DateTime']['output'];
  currency: Scalars['String']['output'];
  description?: Maybe<Scalars['String']['output']>;
  /** The customer's balance after this transaction. */
  endingBalance: Scalars['BigInt']['output'];
  /** cbtxn_... */
  id: Scalars['ID']['output'];
  invoice?: Maybe<Invoice>;
  type: CustomerBalanceTransactionType;
};

export type CustomerBalanceTransactionConnection = {
  __typename?: 'CustomerBalanceTransactionConnection';
  edges: Array<CustomerBalanceTransactionEdge>;
  pageInfo: PageInfo;
};

export type CustomerBalanceTransactionEdge = {
  __typename?: 'CustomerBalanceTransactionEdge';
  cursor: Scalars['String']['output'];
  node: CustomerBalanceTransaction;
};

export type CustomerBalanceTransactionPayload = {
  __typename?: 'CustomerBalanceTransactionPayload';
  customerBalanceTransaction?: Maybe<CustomerBalanceTransaction>;
  userErrors: Array<UserError>;
};

export type CustomerBalanceTransactionType =
  /** Created with createCustomerBalanceTransaction. */
  | 'ADJUSTMENT'
  /** An invoice used the balance at finalization (credit taken, or a carried debt added). */
  | 'APPLIED_TO_INVOICE'
  /** An invoice whose total was below zero credited the customer. */
  | 'INVOICE_CREDIT'
  /** An invoice whose amount due was below the currency's minimum charge was carried to the balance. */
  | 'INVOICE_TOO_SMALL';

export type CustomerConnection = {
  __typename?: 'CustomerConnection';
  edges: Array<CustomerEdge>;
  pageInfo: PageInfo;
};

export type CustomerEdge = {
  __typename?: 'CustomerEdge';
  cursor: Scalars['String']['output'];
  node: Customer;
};

export type CustomerMappingType =
  /** payload value is the customer's externalId */
  | 'BY_EXTERNAL_ID'
  /** payload value is a meterbill customer id (cus_...) */
  | 'BY_ID';

export type CustomerPayload = {
  __typename?: 'CustomerPayload';
  customer?: Maybe<Customer>;
  userErrors: Array<UserError>;
};

export type DunningInvoiceAction =
  | 'LEAVE_OPEN'
  | 'MARK_UNCOLLECTIBLE';

export type DunningSubscriptionAction =
  | 'CANCEL'
  | 'LEAVE_PAST_DUE'
  | 'MARK_UNPAID';

export type Event = Node & {
  __typename?: 'Event';
  createdAt: Scalars['DateTime']['output'];
  /** Snapshot of the object when it happened: its GraphQL scalar and enum fields (camelCase, the same serialization as the API) plus "object": "invoice", "subscription", "customer", ... */
  data: Scalars['JSON']['output'];
  /** evt_... */
  id: Scalars['ID']['output'];
  /** Id of the object the event is about (in_..., sub_..., cus_..., ...). */
  objectId: Scalars['ID']['output'];
  /** e.g. invoice.paid; the types are listed in README.md. */
  type: Scalars['String']['output'];
};

export type EventConnection = {
  __typename?: 'EventConnection';
  edges: Array<EventEdge>;
  pageInfo: PageInfo;
};

export type EventEdge = {
  __typename?: 'EventEdge';
  cursor: Scalars['String']['output'];
  node: Event;
};

export type GroupingWindow =
  | 'DAY'
  | 'HOUR';

export type Invoice = {
  __typename?: 'Invoice';
  amountDue: Scalars['BigInt']['output'];
  amountPaid: Scalars['BigInt']['output'];
  amountRemaining: Scalars['BigInt']['output'];
  /** Automatic payment attempts made so far. */
  attemptCount: Scalars['Int']['output'];
  /** When a DRAFT will be finalized by the worker (end of the grace period). */
  automaticallyFinalizesAt?: Maybe<Scalars['DateTime']['output']>;
  billingReason: BillingReason;
  createdAt: Scalars['DateTime']['output'];
  /** The credit grants that paid for it at finalization (on an upcoming invoice: those that would apply now). */
  creditApplications: Array<CreditApplication>;
  currency: Scalars['String']['output'];
  customer: Customer;
  dueDate?: Maybe<Scalars['DateTime']['output']>;
  /** The customer's balance after this invoice took from it; null until finalized. */
  endingBalance?: Maybe<Scalars['BigInt']['output']>;
  finalizedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Null on a preview (upcomingInvoice). */
  id?: Maybe<Scalars['ID']['output']>;
  lines: Array<InvoiceLine>;
  /** When the next automatic attempt is scheduled; null when none is. */
  nextPaymentAttempt?: Maybe<Scalars['DateTime']['output']>;
  /** Per-account sequence like ALPACA-0001; null until finalized. */
  number?: Maybe<Scalars['String']['output']>;
  paidAt?: Maybe<Scalars['DateTime']['output']>;
  periodEnd: Scalars['DateTime']['output'];
  periodStart: Scalars['DateTime']['output'];
  /** The customer's balance when this invoice was finalized (0 before). */
  startingBalance: Scalars['BigInt']['output'];
  status: InvoiceStatus;
  subscription?: Maybe<Subscription>;
  /** Sum of line amounts. */
  subtotal: Scalars['BigInt']['output'];
  total: Scalars['BigInt']['output'];
  /** Credits applied at finalization; 0 before. */
  totalCreditsApplied: Scalars['BigInt']['output'];
};

export type InvoiceConnection = {
  __typename?: 'InvoiceConnection';
  edges: Array<InvoiceEdge>;
  pageInfo: PageInfo;
};

export type InvoiceEdge = {
  __typename?: 'InvoiceEdge';
  cursor: Scalars['String']['output'];
  node: Invoice;
};

export type InvoiceIdInput = {
  id: Scalars['ID']['input'];
};

export type InvoiceLine = {
  __typename?: 'InvoiceLine';
  /** Minor units, rounded half-up (ROUND_HALF_UP) from the exact amount of this line. */
  amount: Scalars['BigInt']['output'];
  description: Scalars['String']['output'];
  /** Null on a preview. */
  id?: Maybe<Scalars['ID']['output']>;
  periodEnd: Scalars['DateTime']['output'];
  periodStart: Scalars['DateTime']['output'];
  price?: Maybe<Price>;
  quantity: Scalars['Decimal']['output'];
  /** For a tiered price: the 1-based tier this line prices; null otherwise. */
  tier?: Maybe<Scalars['Int']['output']>;
  type: InvoiceLineType;
  unitAmountDecimal?: Maybe<Scalars['Decimal']['output']>;
};

export type InvoiceLineType =
  | 'PRORATION'
  | 'SUBSCRIPTION';

export type InvoicePayload = {
  __typename?: 'InvoicePayload';
  invoice?: Maybe<Invoice>;
  userErrors: Array<UserError>;
};

export type InvoiceStatus =
  | 'DRAFT'
  | 'OPEN'
  | 'PAID'
  | 'UNCOLLECTIBLE'
  | 'VOID';

export type Live = {
  __typename?: 'Live';
  /** The current value at once, then a message each time new usage is aggregated. */
  usage: LiveUsage;
};


export type LiveUsageArgs = {
  customerId: Scalars['ID']['input'];
  meterId: Scalars['ID']['input'];
};

export type LiveUsage = {
  __typename?: 'LiveUsage';
  customerId: Scalars['ID']['output'];
  meterId: Scalars['ID']['output'];
  /** Start of the customer's current billing period (UTC calendar month without a subscription). */
  periodStart: Scalars['DateTime']['output'];
  /** Amount of the upcoming invoice so far, minor units; null without a subscription. */
  upcomingTotal?: Maybe<Scalars['BigInt']['output']>;
  updatedAt: Scalars['DateTime']['output'];
  /** Aggregated usage in the period so far, as meterEventSummaries would return it. */
  value: Scalars['Decimal']['output'];
};

export type Meter = Node & {
  __typename?: 'Meter';
  aggregation: AggregationFormula;
  createdAt: Scalars['DateTime']['output'];
  customerMappingType: CustomerMappingType;
  /** Payload key holding the customer; default "customer_id". */
  customerPayloadKey: Scalars['String']['output'];
  deactivatedAt?: Maybe<Scalars['DateTime']['output']>;
  /** Payload keys recorded as dimensions for filtering and grouping. */
  dimensionKeys: Array<Scalars['String']['output']>;
  displayName: Scalars['String']['output'];
  /** Unique per account among meters (active or not). */
  eventName: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  status: MeterStatus;
  /** Payload key holding the numeric value; default "value". Ignored by COUNT. */
  valuePayloadKey: Scalars['String']['output'];
};

export type MeterConnection = {
  __typename?: 'MeterConnection';
  edges: Array<MeterEdge>;
  pageInfo: PageInfo;
};

export type MeterEdge = {
  __typename?: 'MeterEdge';
  cursor: Scalars['String']['output'];
  node: Meter;
};

export type MeterEvent = {
  __typename?: 'MeterEvent';
  /** When meterbill received it. */
  createdAt: Scalars['DateTime']['output'];
  customerId: Scalars['ID']['output'];
  dimensions: Scalars['JSON']['output'];
  eventName: Scalars['String']['output'];
  identifier: Scalars['String']['output'];
  status: MeterEventStatus;
  timestamp: Scalars['DateTime']['output'];
  value: Scalars['Decimal']['output'];
};

export type MeterEventInput = {
  eventName: Scalars['String']['input'];
  /** Up to 100 characters; generated when absent. Unique per account for at least 35 days. */
  identifier?: InputMaybe<Scalars['String']['input']>;
  /** Customer key, value key and dimension keys; values are strings or numbers. */
  payload: Scalars['JSON']['input'];
  /** Defaults to now (the customer's test clock time, if any). Accepted: [now - 35 days, now + 5 minutes]. */
  timestamp?: InputMaybe<Scalars['DateTime']['input']>;
};

export type MeterEventResult = {
  __typename?: 'MeterEventResult';
  identifier?: Maybe<Scalars['String']['output']>;
  /** Position in the input list. */
  index: Scalars['Int']['output'];
  status: MeterEventResultStatus;
  userErrors: Array<UserError>;
};

export type MeterEventResultStatus =
  | 'ACCEPTED'
  | 'DUPLICATE'
  | 'REJECTED';

export type MeterEventStatus =
  | 'ACCEPTED'
  | 'CANCELED';

export type MeterEventSummary = {
  __typename?: 'MeterEventSummary';
  aggregatedValue: Scalars['Decimal']['output'];
  /** Values of the groupBy keys for this row; {} when not grouped. */
  dimensions: Scalars['JSON']['output'];
  endTime: Scalars['DateTime']['output'];
  startTime: Scalars['DateTime']['output'];
};

export type MeterIdInput = {
  id: Scalars['ID']['input'];
};

export type MeterPayload = {
  __typename?: 'MeterPayload';
  meter?: Maybe<Meter>;
  userErrors: Array<UserError>;
};

export type MeterStatus =
  | 'ACTIVE'
  | 'INACTIVE';

export type Mutation = {
  __typename?: 'Mutation';
  /** Returns at once with status ADVANCING; the worker bills everything due up to frozenTime, then READY. */
  advanceTestClock: TestClockPayload;
  archiveBillingAlert: BillingAlertPayload;
  attachPaymentMethod: CustomerPayload;
  /** Only events received in the last 24 hours can be canceled (else TOO_LATE). */
  cancelMeterEvent: CancelMeterEventPayload;
  cancelSubscription: SubscriptionPayload;
  createApiKey: CreateApiKeyPayload;
  createBillingAlert: BillingAlertPayload;
  createCreditGrant: CreditGrantPayload;
  createCustomer: CustomerPayload;
  createCustomerBalanceTransaction: CustomerBalanceTransactionPayload;
  createMeter: MeterPayload;
  createPrice: PricePayload;
  createProduct: ProductPayload;
  createSubscription: SubscriptionPayload;
  createTestClock: TestClockPayload;
  createWebhookEndpoint: CreateWebhookEndpointPayload;
  /** Events for an inactive meter are rejected with code INACTIVE; usage already recorded stays billable. */
  deactivateMeter: MeterPayload;
  deleteWebhookEndpoint: WebhookEndpointPayload;
  finalizeInvoice: InvoicePayload;
  markInvoiceUncollectible: InvoicePayload;
  payInvoice: InvoicePayload;
  reactivateMeter: MeterPayload;
  recordMeterEvent: RecordMeterEventPayload;
  /** At most 1000 events; each is accepted, a duplicate, or rejected on its own. */
  recordMeterEvents: RecordMeterEventsPayload;
  /** Deliver an event to an endpoint again, as a new delivery. */
  resendWebhookEvent: WebhookDeliveryPayload;
  revokeApiKey: ApiKeyPayload;
  updateBillingSettings: BillingSettingsPayload;
  updateMeter: MeterPayload;
  updateSubscription: SubscriptionPayload;
  updateSubscriptionItem: SubscriptionItemPayload;
  updateWebhookEndpoint: WebhookEndpointPayload;
  /** Unapplied credit of a voided grant is never applied. */
  voidCreditGrant: CreditGrantPayload;
  voidInvoice: InvoicePayload;
};


export type MutationAdvanceTestClockArgs = {
  input: AdvanceTestClockInput;
};


export type MutationArchiveBillingAlertArgs = {
  input: BillingAlertIdInput;
};


export type MutationAttachPaymentMethodArgs = {
  input: AttachPaymentMethodInput;
};


export type MutationCancelMeterEventArgs = {
  input: CancelMeterEventInput;
};


export type MutationCancelSubscriptionArgs = {
  input: CancelSubscriptionInput;
};


export type MutationCreateApiKeyArgs = {
  input: CreateApiKeyInput;
};


export type MutationCreateBillingAlertArgs = {
  input: CreateBillingAlertInput;
};


export type MutationCreateCreditGrantArgs = {
  input: CreateCreditGrantInput;
};


export type MutationCreateCustomerArgs = {
  input: CreateCustomerInput;
};


export type MutationCreateCustomerBalanceTransactionArgs = {
  input: CreateCustomerBalanceTransactionInput;
};


export type MutationCreateMeterArgs = {
  input: CreateMeterInput;
};


export type MutationCreatePriceArgs = {
  input: CreatePriceInput;
};


export type MutationCreateProductArgs = {
  input: CreateProductInput;
};


export type MutationCreateSubscriptionArgs = {
  input: CreateSubscriptionInput;
};


export type MutationCreateTestClockArgs = {
  input: CreateTestClockInput;
};


export type MutationCreateWebhookEndpointArgs = {
  input: CreateWebhookEndpointInput;
};


export type MutationDeactivateMeterArgs = {
  input: MeterIdInput;
};


export type MutationDeleteWebhookEndpointArgs = {
  input: WebhookEndpointIdInput;
};


export type MutationFinalizeInvoiceArgs = {
  input: InvoiceIdInput;
};


export type MutationMarkInvoiceUncollectibleArgs = {
  input: InvoiceIdInput;
};


export type MutationPayInvoiceArgs = {
  input: PayInvoiceInput;
};


export type MutationReactivateMeterArgs = {
  input: MeterIdInput;
};


export type MutationRecordMeterEventArgs = {
  input: MeterEventInput;
};


export type MutationRecordMeterEventsArgs = {
  input: Array<MeterEventInput>;
};


export type MutationResendWebhookEventArgs = {
  input: ResendWebhookEventInput;
};


export type MutationRevokeApiKeyArgs = {
  input: RevokeApiKeyInput;
};


export type MutationUpdateBillingSettingsArgs = {
  input: UpdateBillingSettingsInput;
};


export type MutationUpdateMeterArgs = {
  input: UpdateMeterInput;
};


export type MutationUpdateSubscriptionArgs = {
  input: UpdateSubscriptionInput;
};


export type MutationUpdateSubscriptionItemArgs = {
  input: UpdateSubscriptionItemInput;
};


export type MutationUpdateWebhookEndpointArgs = {
  input: UpdateWebhookEndpointInput;
};


export type MutationVoidCreditGrantArgs = {
  input: CreditGrantIdInput;
};


export type MutationVoidInvoiceArgs = {
  input: InvoiceIdInput;
};

export type Node = {
  id: Scalars['ID']['output'];
};

export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

export type PayInvoiceInput = {
  id: Scalars['ID']['input'];
  /** Mark paid without charging (money received elsewhere). */
  paidOutOfBand?: InputMaybe<Scalars['Boolean']['input']>;
};

export type Price = Node & {
  __typename?: 'Price';
  active: Scalars['Boolean']['output'];
  billingScheme: BillingScheme;
  createdAt: Scalars['DateTime']['output'];
  currency: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  nickname?: Maybe<Scalars['String']['output']>;
  product: Product;
  recurring: Recurring;
  tiers?: Maybe<Array<PriceTier>>;
  tiersMode?: Maybe<TiersMode>;
  transformQuantity?: Maybe<TransformQuantity>;
  /** Minor units; null when the price is tiered or not a whole number of minor units. */
  unitAmount?: Maybe<Scalars['BigInt']['output']>;
  unitAmountDecimal?: Maybe<Scalars['Decimal']['output']>;
};

export type PriceConnection = {
  __typename?: 'PriceConnection';
  edges: Array<PriceEdge>;
  pageInfo: PageInfo;
};

export type PriceEdge = {
  __typename?: 'PriceEdge';
  cursor: Scalars['String']['output'];
  node: Price;
};

export type PricePayload = {
  __typename?: 'PricePayload';
  price?: Maybe<Price>;
  userErrors: Array<UserError>;
};

export type PriceTier = {
  __typename?: 'PriceTier';
  flatAmountDecimal?: Maybe<Scalars['Decimal']['output']>;
  unitAmountDecimal?: Maybe<Scalars['Decimal']['output']>;
  /** Inclusive upper bound in units; null on the last tier (infinity). */
  upTo?: Maybe<Scalars['BigInt']['output']>;
};

export type PriceTierInput = {
  flatAmount?: InputMaybe<Scalars['BigInt']['input']>;
  flatAmountDecimal?: InputMaybe<Scalars['Decimal']['input']>;
  unitAmount?: InputMaybe<Scalars['BigInt']['input']>;
  unitAmountDecimal?: InputMaybe<Scalars['Decimal']['input']>;
  /** Inclusive upper bound; omit or null for the last tier only. */
  upTo?: InputMaybe<Scalars['BigInt']['input']>;
};

export type Product = Node & {
  __typename?: 'Product';
  active: Scalars['Boolean']['output'];
  createdAt: Scalars['DateTime']['output'];
  description?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
};

export type ProductConnection = {
  __typename?: 'ProductConnection';
  edges: Array<ProductEdge>;
  pageInfo: PageInfo;
};

export type ProductEdge = {
  __typename?: 'ProductEdge';
  cursor: Scalars['String']['output'];
  node: Product;
};

export type ProductPayload = {
  __typename?: 'ProductPayload';
  product?: Maybe<Product>;
  userErrors: Array<UserError>;
};

export type ProrationBehavior =
  | 'ALWAYS_INVOICE'
  | 'CREATE_PRORATIONS'
  | 'NONE';

export type Query = {
  __typename?: 'Query';
  apiKeys: Array<ApiKey>;
  /** Newest first. */
  billingAlertTriggers: BillingAlertTriggerConnection;
  billingAlerts: Array<BillingAlert>;
  billingSettings: BillingSettings;
  creditGrant?: Maybe<CreditGrant>;
  customer?: Maybe<Customer>;
  customers: CustomerConnection;
  event?: Maybe<Event>;
  /** Newest first. */
  events: EventConnection;
  invoice?: Maybe<Invoice>;
  invoices: InvoiceConnection;
  meter?: Maybe<Meter>;
  /**
   * Aggregated usage of one customer on one meter in [startTime, endTime).
   * startTime and endTime must be minute-aligned; hour-aligned with HOUR windows;
   * 00:00 UTC-aligned with DAY windows (else BAD_USER_INPUT). Without a window: one row
   * per group for the whole range. With a window: one row per window per group, in
   * ascending startTime, windows without events included with aggregatedValue "0".
   * filter: {dimensionKey: value} equality on dimensions; groupBy: dimension keys.
   */
  meterEventSummaries: Array<MeterEventSummary>;
  /** Most recent first; for debugging integrations. */
  meterEvents: Array<MeterEvent>;
  meters: MeterConnection;
  price?: Maybe<Price>;
  /** Newest first. */
  prices: PriceConnection;
  product?: Maybe<Product>;
  /** Newest first. */
  products: ProductConnection;
  subscription?: Maybe<Subscription>;
  subscriptions: SubscriptionConnection;
  testClock?: Maybe<TestClock>;
  /** The invoice the subscription would produce at the end of its current period, with usage recorded (and aggregated) so far: metered usage in arrears for the current period plus licensed fees in advance for the next one. Not stored; id is null. */
  upcomingInvoice?: Maybe<Invoice>;
  /** Newest first. */
  webhookDeliveries: WebhookDeliveryConnection;
  webhookEndpoints: Array<WebhookEndpoint>;
};


export type QueryBillingAlertTriggersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  alertId: Scalars['ID']['input'];
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QueryCreditGrantArgs = {
  id: Scalars['ID']['input'];
};


export type QueryCustomerArgs = {
  id: Scalars['ID']['input'];
};


export type QueryCustomersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  search?: InputMaybe<Scalars['String']['input']>;
};


export type QueryEventArgs = {
  id: Scalars['ID']['input'];
};


export type QueryEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  objectId?: InputMaybe<Scalars['ID']['input']>;
  type?: InputMaybe<Scalars['String']['input']>;
};


export type QueryInvoiceArgs = {
  id: Scalars['ID']['input'];
};


export type QueryInvoicesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  customerId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  status?: InputMaybe<InvoiceStatus>;
  subscriptionId?: InputMaybe<Scalars['ID']['input']>;
};


export type QueryMeterArgs = {
  id: Scalars['ID']['input'];
};


export type QueryMeterEventSummariesArgs = {
  customerId: Scalars['ID']['input'];
  endTime: Scalars['DateTime']['input'];
  filter?: InputMaybe<Scalars['JSON']['input']>;
  groupBy?: InputMaybe<Array<Scalars['String']['input']>>;
  meterId: Scalars['ID']['input'];
  startTime: Scalars['DateTime']['input'];
  valueGroupingWindow?: InputMaybe<GroupingWindow>;
};


export type QueryMeterEventsArgs = {
  customerId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  meterId: Scalars['ID']['input'];
};


export type QueryMetersArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  status?: InputMaybe<MeterStatus>;
};


export type QueryPriceArgs = {
  id: Scalars['ID']['input'];
};


export type QueryPricesArgs = {
  active?: InputMaybe<Scalars['Boolean']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  productId?: InputMaybe<Scalars['ID']['input']>;
};


export type QueryProductArgs = {
  id: Scalars['ID']['input'];
};


export type QueryProductsArgs = {
  active?: InputMaybe<Scalars['Boolean']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QuerySubscriptionArgs = {
  id: Scalars['ID']['input'];
};


export type QuerySubscriptionsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  customerId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  status?: InputMaybe<SubscriptionStatus>;
};


export type QueryTestClockArgs = {
  id: Scalars['ID']['input'];
};


export type QueryUpcomingInvoiceArgs = {
  subscriptionId: Scalars['ID']['input'];
};


export type QueryWebhookDeliveriesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  endpointId: Scalars['ID']['input'];
  eventId?: InputMaybe<Scalars['ID']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  status?: InputMaybe<WebhookDeliveryStatus>;
};

export type RecordMeterEventPayload = {
  __typename?: 'RecordMeterEventPayload';
  /** true when the identifier was already recorded: nothing was counted again. */
  duplicate: Scalars['Boolean']['output'];
  meterEvent?: Maybe<MeterEvent>;
  userErrors: Array<UserError>;
};

export type RecordMeterEventsPayload = {
  __typename?: 'RecordMeterEventsPayload';
  accepted: Scalars['Int']['output'];
  duplicates: Scalars['Int']['output'];
  rejected: Scalars['Int']['output'];
  /** One per input event, in input order. */
  results: Array<MeterEventResult>;
  /** Errors about the batch as a whole (e.g. too many events); then nothing was recorded. */
  userErrors: Array<UserError>;
};

export type Recurring = {
  __typename?: 'Recurring';
  interval: RecurringInterval;
  intervalCount: Scalars['Int']['output'];
  meter?: Maybe<Meter>;
  usageType: UsageType;
};

export type RecurringInput = {
  interval: RecurringInterval;
  intervalCount?: InputMaybe<Scalars['Int']['input']>;
  /** Required for METERED, forbidden for LICENSED. */
  meterId?: InputMaybe<Scalars['ID']['input']>;
  usageType?: InputMaybe<UsageType>;
};

export type RecurringInterval =
  | 'DAY'
  | 'MONTH'
  | 'WEEK'
  | 'YEAR';

export type ResendWebhookEventInput = {
  endpointId: Scalars['ID']['input'];
  eventId: Scalars['ID']['input'];
};

export type RevokeApiKeyInput = {
  id: Scalars['ID']['input'];
};

export type RoundingDirection =
  | 'DOWN'
  | 'UP';

export type Subscription = Node & {
  __typename?: 'Subscription';
  billingCycleAnchor: Scalars['DateTime']['output'];
  billingMode: BillingMode;
  cancelAtPeriodEnd: Scalars['Boolean']['output'];
  canceledAt?: Maybe<Scalars['DateTime']['output']>;
  collectionMethod: CollectionMethod;
  createdAt: Scalars['DateTime']['output'];
  currency: Scalars['String']['output'];
  currentPeriodEnd: Scalars['DateTime']['output'];
  currentPeriodStart: Scalars['DateTime']['output'];
  customer: Customer;
  daysUntilDue?: Maybe<Scalars['Int']['output']>;
  id: Scalars['ID']['output'];
  items: Array<SubscriptionItem>;
  latestInvoice?: Maybe<Invoice>;
  startDate: Scalars['DateTime']['output'];
  status: SubscriptionStatus;
  testClock?: Maybe<TestClock>;
};

export type SubscriptionConnection = {
  __typename?: 'SubscriptionConnection';
  edges: Array<SubscriptionEdge>;
  pageInfo: PageInfo;
};

export type SubscriptionEdge = {
  __typename?: 'SubscriptionEdge';
  cursor: Scalars['String']['output'];
  node: Subscription;
};

export type SubscriptionItem = {
  __typename?: 'SubscriptionItem';
  id: Scalars['ID']['output'];
  price: Price;
  /** Seats for LICENSED prices; always 1 for METERED. */
  quantity: Scalars['Int']['output'];
};

export type SubscriptionItemInput = {
  priceId: Scalars['ID']['input'];
  quantity?: InputMaybe<Scalars['Int']['input']>;
};

export type SubscriptionItemPayload = {
  __typename?: 'SubscriptionItemPayload';
  subscriptionItem?: Maybe<SubscriptionItem>;
  userErrors: Array<UserError>;
};

export type SubscriptionItemUpdateInput = {
  /** true removes the item. */
  deleted?: InputMaybe<Scalars['Boolean']['input']>;
  /** An item of this subscription; omit to add a new item. */
  id?: InputMaybe<Scalars['ID']['input']>;
  /** A new price for the item (same currency and interval), or the price of a new item. */
  priceId?: InputMaybe<Scalars['ID']['input']>;
  quantity?: InputMaybe<Scalars['Int']['input']>;
};

export type SubscriptionPayload = {
  __typename?: 'SubscriptionPayload';
  subscription?: Maybe<Subscription>;
  userErrors: Array<UserError>;
};

export type SubscriptionStatus =
  | 'ACTIVE'
  | 'CANCELED'
  /** The first invoice's automatic payment failed at creation; ACTIVE once it is paid. cancelSubscription cancels it now only, voiding that invoice. */
  | 'INCOMPLETE'
  /** INCOMPLETE for 23 hours: its first invoice was voided; nothing more is billed. */
  | 'INCOMPLETE_EXPIRED'
  | 'PAST_DUE'
  | 'UNPAID';

export type TestClock = Node & {
  __typename?: 'TestClock';
  createdAt: Scalars['DateTime']['output'];
  frozenTime: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  name?: Maybe<Scalars['String']['output']>;
  status: TestClockStatus;
};

export type TestClockPayload = {
  __typename?: 'TestClockPayload';
  testClock?: Maybe<TestClock>;
  userErrors: Array<UserError>;
};

export type TestClockStatus =
  | 'ADVANCING'
  | 'INTERNAL_FAILURE'
  | 'READY';

export type TiersMode =
  | 'GRADUATED'
  | 'VOLUME';

export type TransformQuantity = {
  __typename?: 'TransformQuantity';
  divideBy: Scalars['Int']['output'];
  round: RoundingDirection;
};

export type TransformQuantityInput = {
  divideBy: Scalars['Int']['input'];
  round: RoundingDirection;
};

export type UpdateBillingSettingsInput = {
  invoiceAfterRetries?: InputMaybe<DunningInvoiceAction>;
  /** 0 to 8 entries, each 1 to 30; [] turns retries off. */
  paymentRetryDays?: InputMaybe<Array<Scalars['Int']['input']>>;
  subscriptionAfterRetries?: InputMaybe<DunningSubscriptionAction>;
};

export type UpdateMeterInput = {
  displayName: Scalars['String']['input'];
  id: Scalars['ID']['input'];
};

export type UpdateSubscriptionInput = {
  /** false undoes a scheduled cancellation; true schedules one. */
  cancelAtPeriodEnd?: InputMaybe<Scalars['Boolean']['input']>;
  items?: InputMaybe<Array<SubscriptionItemUpdateInput>>;
  prorationBehavior?: InputMaybe<ProrationBehavior>;
  subscriptionId: Scalars['ID']['input'];
};

export type UpdateSubscriptionItemInput = {
  itemId: Scalars['ID']['input'];
  prorationBehavior?: InputMaybe<ProrationBehavior>;
  quantity: Scalars['Int']['input'];
};

export type UpdateWebhookEndpointInput = {
  description?: InputMaybe<Scalars['String']['input']>;
  enabledEvents?: InputMaybe<Array<Scalars['String']['input']>>;
  id: Scalars['ID']['input'];
  status?: InputMaybe<WebhookEndpointStatus>;
  url?: InputMaybe<Scalars['String']['input']>;
};

export type UsageType =
  | 'LICENSED'
  | 'METERED';

export type UserError = {
  __typename?: 'UserError';
  code: UserErrorCode;
  /** Path to the offending input field, e.g. ["input", "tiers", "1", "upTo"]. */
  field?: Maybe<Array<Scalars['String']['output']>>;
  message: Scalars['String']['output'];
};

export type UserErrorCode =
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'DUPLICATE'
  | 'FORBIDDEN'
  | 'INACTIVE'
  | 'INVALID'
  | 'NOT_FOUND'
  | 'OUT_OF_RANGE'
  | 'REQUIRED'
  | 'TOO_LATE';

export type WebhookDelivery = Node & {
  __typename?: 'WebhookDelivery';
  attemptCount: Scalars['Int']['output'];
  endpoint: WebhookEndpoint;
  event: Event;
  /** whd_... */
  id: Scalars['ID']['output'];
  lastAttemptAt?: Maybe<Scalars['DateTime']['output']>;
  /** Why the last attempt failed (timeout, connection refused, non-2xx ...). */
  lastError?: Maybe<Scalars['String']['output']>;
  /** HTTP status of the last attempt; null when it got no response. */
  lastResponseStatus?: Maybe<Scalars['Int']['output']>;
  /** Null when no further attempt is scheduled. */
  nextAttemptAt?: Maybe<Scalars['DateTime']['output']>;
  status: WebhookDeliveryStatus;
};

export type WebhookDeliveryConnection = {
  __typename?: 'WebhookDeliveryConnection';
  edges: Array<WebhookDeliveryEdge>;
  pageInfo: PageInfo;
};

export type WebhookDeliveryEdge = {
  __typename?: 'WebhookDeliveryEdge';
  cursor: Scalars['String']['output'];
  node: WebhookDelivery;
};

export type WebhookDeliveryPayload = {
  __typename?: 'WebhookDeliveryPayload';
  userErrors: Array<UserError>;
  webhookDelivery?: Maybe<WebhookDelivery>;
};

export type WebhookDeliveryStatus =
  | 'FAILED'
  | 'PENDING'
  | 'SUCCEEDED';

export type WebhookEndpoint = Node & {
  __typename?: 'WebhookEndpoint';
  createdAt: Scalars['DateTime']['output'];
  description?: Maybe<Scalars['String']['output']>;
  /** Event types delivered; ["*"] means all. */
  enabledEvents: Array<Scalars['String']['output']>;
  /** we_... */
  id: Scalars['ID']['output'];
  status: WebhookEndpointStatus;
  url: Scalars['String']['output'];
};

export type WebhookEndpointIdInput = {
  id: Scalars['ID']['input'];
};

export type WebhookEndpointPayload = {
  __typename?: 'WebhookEndpointPayload';
  userErrors: Array<UserError>;
  webhookEndpoint?: Maybe<WebhookEndpoint>;
};

export type WebhookEndpointStatus =
  | 'DISABLED'
  | 'ENABLED';

export type DashboardCustomerQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type DashboardCustomerQuery = { __typename?: 'Query', customer?: { __typename?: 'Customer', id: string, name?: string | null, email?: string | null, externalId?: string | null, defaultPaymentMethod?: string | null, createdAt: string, testClock?: { __typename?: 'TestClock', id: string, frozenTime: string } | null } | null, subscriptions: { __typename?: 'SubscriptionConnection', edges: Array<{ __typename?: 'SubscriptionEdge', node: { __typename?: 'Subscription', id: string, status: SubscriptionStatus, currency: string, currentPeriodStart: string, currentPeriodEnd: string, cancelAtPeriodEnd: boolean, items: Array<{ __typename?: 'SubscriptionItem', id: string, quantity: number, price: { __typename?: 'Price', id: string, nickname?: string | null, product: { __typename?: 'Product', name: string }, recurring: { __typename?: 'Recurring', usageType: UsageType, meter?: { __typename?: 'Meter', id: string, displayName: string } | null } } }> } }> }, invoices: { __typename?: 'InvoiceConnection', edges: Array<{ __typename?: 'InvoiceEdge', node: { __typename?: 'Invoice', id?: string | null, number?: string | null, status: InvoiceStatus, currency: string, total: number, createdAt: string } }> } };

export type DashboardUpcomingQueryVariables = Exact<{
  subscriptionId: Scalars['ID']['input'];
}>;


export type DashboardUpcomingQuery = { __typename?: 'Query', upcomingInvoice?: { __typename?: 'Invoice', currency: string, total: number, periodStart: string, periodEnd: string, lines: Array<{ __typename?: 'InvoiceLine', description: string, amount: number }> } | null };

export type DashboardCustomersQueryVariables = Exact<{
  search?: InputMaybe<Scalars['String']['input']>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type DashboardCustomersQuery = { __typename?: 'Query', customers: { __typename?: 'CustomerConnection', edges: Array<{ __typename?: 'CustomerEdge', node: { __typename?: 'Customer', id: string, name?: string | null, email?: string | null, externalId?: string | null, createdAt: string } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type DashboardInvoiceQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type DashboardInvoiceQuery = { __typename?: 'Query', invoice?: { __typename?: 'Invoice', id?: string | null, number?: string | null, status: InvoiceStatus, billingReason: BillingReason, currency: string, periodStart: string, periodEnd: string, subtotal: number, total: number, amountDue: number, amountPaid: number, finalizedAt?: string | null, paidAt?: string | null, dueDate?: string | null, customer: { __typename?: 'Customer', id: string, name?: string | null }, lines: Array<{ __typename?: 'InvoiceLine', id?: string | null, type: InvoiceLineType, description: string, quantity: string, amount: number, periodStart: string, periodEnd: string }> } | null };

export type DashboardInvoicesQueryVariables = Exact<{
  status?: InputMaybe<InvoiceStatus>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type DashboardInvoicesQuery = { __typename?: 'Query', invoices: { __typename?: 'InvoiceConnection', edges: Array<{ __typename?: 'InvoiceEdge', node: { __typename?: 'Invoice', id?: string | null, number?: string | null, status: InvoiceStatus, currency: string, total: number, createdAt: string, customer: { __typename?: 'Customer', id: string, name?: string | null } } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export type SignInCheckQueryVariables = Exact<{ [key: string]: never; }>;


export type SignInCheckQuery = { __typename?: 'Query', customers: { __typename?: 'CustomerConnection', pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean } } };

export type DashboardUsageQueryVariables = Exact<{
  meterId: Scalars['ID']['input'];
  customerId: Scalars['ID']['input'];
  start: Scalars['DateTime']['input'];
  end: Scalars['DateTime']['input'];
}>;


export type DashboardUsageQuery = { __typename?: 'Query', meterEventSummaries: Array<{ __typename?: 'MeterEventSummary', startTime: string, aggregatedValue: string }> };

export type DashboardLiveUsageSubscriptionVariables = Exact<{
  meterId: Scalars['ID']['input'];
  customerId: Scalars['ID']['input'];
}>;


export type DashboardLiveUsageSubscription = { __typename?: 'Live', usage: { __typename?: 'LiveUsage', value: string, updatedAt: string } };

export type DashboardWebhookEndpointsQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardWebhookEndpointsQuery = { __typename?: 'Query', webhookEndpoints: Array<{ __typename?: 'WebhookEndpoint', id: string, url: string, description?: string | null, enabledEvents: Array<string>, status: WebhookEndpointStatus, createdAt: string }> };

export type DashboardWebhookDeliveriesQueryVariables = Exact<{
  endpointId: Scalars['ID']['input'];
  status?: InputMaybe<WebhookDeliveryStatus>;
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type DashboardWebhookDeliveriesQuery = { __typename?: 'Query', webhookDeliveries: { __typename?: 'WebhookDeliveryConnection', edges: Array<{ __typename?: 'WebhookDeliveryEdge', node: { __typename?: 'WebhookDelivery', id: string, status: WebhookDeliveryStatus, attemptCount: number, lastAttemptAt?: string | null, nextAttemptAt?: string | null, lastResponseStatus?: number | null, lastError?: string | null, event: { __typename?: 'Event', id: string, type: string, objectId: string, createdAt: string } } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor?: string | null } } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const DashboardCustomerDocument = new TypedDocumentString(`
    query DashboardCustomer($id: ID!) {
  customer(id: $id) {
    id
    name
    email
    externalId
    defaultPaymentMethod
    createdAt
    testClock {
      id
      frozenTime
    }
  }
  subscriptions(customerId: $id, first: 20) {
    edges {
      node {
        id
        status
        currency
        currentPeriodStart
        currentPeriodEnd
        cancelAtPeriodEnd
        items {
          id
          quantity
          price {
            id
            nickname
            product {
              name
            }
            recurring {
              usageType
              meter {
                id
                displayName
              }
            }
          }
        }
      }
    }
  }
  invoices(customerId: $id, first: 100) {
    edges {
      node {
        id
        number
        status
        currency
        total
        createdAt
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardCustomerQuery, DashboardCustomerQueryVariables>;
export const DashboardUpcomingDocument = new TypedDocumentString(`
    query DashboardUpcoming($subscriptionId: ID!) {
  upcomingInvoice(subscriptionId: $subscriptionId) {
    currency
    total
    periodStart
    periodEnd
    lines {
      description
      amount
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardUpcomingQuery, DashboardUpcomingQueryVariables>;
export const DashboardCustomersDocument = new TypedDocumentString(`
    query DashboardCustomers($search: String, $after: String) {
  customers(first: 50, search: $search, after: $after) {
    edges {
      node {
        id
        name
        email
        externalId
        createdAt
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardCustomersQuery, DashboardCustomersQueryVariables>;
export const DashboardInvoiceDocument = new TypedDocumentString(`
    query DashboardInvoice($id: ID!) {
  invoice(id: $id) {
    id
    number
    status
    billingReason
    currency
    periodStart
    periodEnd
    subtotal
    total
    amountDue
    amountPaid
    finalizedAt
    paidAt
    dueDate
    customer {
      id
      name
    }
    lines {
      id
      type
      description
      quantity
      amount
      periodStart
      periodEnd
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardInvoiceQuery, DashboardInvoiceQueryVariables>;
export const DashboardInvoicesDocument = new TypedDocumentString(`
    query DashboardInvoices($status: InvoiceStatus, $after: String) {
  invoices(first: 50, status: $status, after: $after) {
    edges {
      node {
        id
        number
        status
        currency
        total
        createdAt
        customer {
          id
          name
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardInvoicesQuery, DashboardInvoicesQueryVariables>;
export const SignInCheckDocument = new TypedDocumentString(`
    query SignInCheck {
  customers(first: 1) {
    pageInfo {
      hasNextPage
    }
  }
}
    `) as unknown as TypedDocumentString<SignInCheckQuery, SignInCheckQueryVariables>;
export const DashboardUsageDocument = new TypedDocumentString(`
    query DashboardUsage($meterId: ID!, $customerId: ID!, $start: DateTime!, $end: DateTime!) {
  meterEventSummaries(
    meterId: $meterId
    customerId: $customerId
    startTime: $start
    endTime: $end
    valueGroupingWindow: DAY
  ) {
    startTime
    aggregatedValue
  }
}
    `) as unknown as TypedDocumentString<DashboardUsageQuery, DashboardUsageQueryVariables>;
export const DashboardLiveUsageDocument = new TypedDocumentString(`
    subscription DashboardLiveUsage($meterId: ID!, $customerId: ID!) {
  usage(meterId: $meterId, customerId: $customerId) {
    value
    updatedAt
  }
}
    `) as unknown as TypedDocumentString<DashboardLiveUsageSubscription, DashboardLiveUsageSubscriptionVariables>;
export const DashboardWebhookEndpointsDocument = new TypedDocumentString(`
    query DashboardWebhookEndpoints {
  webhookEndpoints {
    id
    url
    description
    enabledEvents
    status
    createdAt
  }
}
    `) as unknown as TypedDocumentString<DashboardWebhookEndpointsQuery, DashboardWebhookEndpointsQueryVariables>;
export const DashboardWebhookDeliveriesDocument = new TypedDocumentString(`
    query DashboardWebhookDeliveries($endpointId: ID!, $status: WebhookDeliveryStatus, $after: String) {
  webhookDeliveries(
    endpointId: $endpointId
    status: $status
    first: 50
    after: $after
  ) {
    edges {
      node {
        id
        status
        attemptCount
        lastAttemptAt
        nextAttemptAt
        lastResponseStatus
        lastError
        event {
          id
          type
          objectId
          createdAt
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardWebhookDeliveriesQuery, DashboardWebhookDeliveriesQueryVariables>;