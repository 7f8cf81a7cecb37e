/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query DashboardCustomer($id: ID!) {\n    customer(id: $id) {\n      id\n      name\n      email\n      externalId\n      defaultPaymentMethod\n      createdAt\n      testClock {\n        id\n        frozenTime\n      }\n    }\n    subscriptions(customerId: $id, first: 20) {\n      edges {\n        node {\n          id\n          status\n          currency\n          currentPeriodStart\n          currentPeriodEnd\n          cancelAtPeriodEnd\n          items {\n            id\n            quantity\n            price {\n              id\n              nickname\n              product {\n                name\n              }\n              recurring {\n                usageType\n                meter {\n                  id\n                  displayName\n                }\n              }\n            }\n          }\n        }\n      }\n    }\n    invoices(customerId: $id, first: 100) {\n      edges {\n        node {\n          id\n          number\n          status\n          currency\n          total\n          createdAt\n        }\n      }\n    }\n  }\n": typeof types.DashboardCustomerDocument,
    "\n  query DashboardUpcoming($subscriptionId: ID!) {\n    upcomingInvoice(subscriptionId: $subscriptionId) {\n      currency\n      total\n      periodStart\n      periodEnd\n      lines {\n        description\n        amount\n      }\n    }\n  }\n": typeof types.DashboardUpcomingDocument,
    "\n  query DashboardCustomers($search: String, $after: String) {\n    customers(first: 50, search: $search, after: $after) {\n      edges {\n        node {\n          id\n          name\n          email\n          externalId\n          createdAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.DashboardCustomersDocument,
    "\n  query DashboardInvoice($id: ID!) {\n    invoice(id: $id) {\n      id\n      number\n      status\n      billingReason\n      currency\n      periodStart\n      periodEnd\n      subtotal\n      total\n      amountDue\n      amountPaid\n      finalizedAt\n      paidAt\n      dueDate\n      customer {\n        id\n        name\n      }\n      lines {\n        id\n        type\n        description\n        quantity\n        amount\n        periodStart\n        periodEnd\n      }\n    }\n  }\n": typeof types.DashboardInvoiceDocument,
    "\n  query DashboardInvoices($status: InvoiceStatus, $after: String) {\n    invoices(first: 50, status: $status, after: $after) {\n      edges {\n        node {\n          id\n          number\n          status\n          currency\n          total\n          createdAt\n          customer {\n            id\n            name\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.DashboardInvoicesDocument,
    "\n  query SignInCheck {\n    customers(first: 1) {\n      pageInfo {\n        hasNextPage\n      }\n    }\n  }\n": typeof types.SignInCheckDocument,
    "\n  query DashboardUsage($meterId: ID!, $customerId: ID!, $start: DateTime!, $end: DateTime!) {\n    meterEventSummaries(\n      meterId: $meterId\n      customerId: $customerId\n      startTime: $start\n      endTime: $end\n      valueGroupingWindow: DAY\n    ) {\n      startTime\n      aggregatedValue\n    }\n  }\n": typeof types.DashboardUsageDocument,
    "\n  subscription DashboardLiveUsage($meterId: ID!, $customerId: ID!) {\n    usage(meterId: $meterId, customerId: $customerId) {\n      value\n      updatedAt\n    }\n  }\n": typeof types.DashboardLiveUsageDocument,
    "\n  query DashboardWebhookEndpoints {\n    webhookEndpoints {\n      id\n      url\n      description\n      enabledEvents\n      status\n      createdAt\n    }\n  }\n": typeof types.DashboardWebhookEndpointsDocument,
    "\n  query DashboardWebhookDeliveries($endpointId: ID!, $status: WebhookDeliveryStatus, $after: String) {\n    webhookDeliveries(endpointId: $endpointId, status: $status, first: 50, after: $after) {\n      edges {\n        node {\n          id\n          status\n          attemptCount\n          lastAttemptAt\n          nextAttemptAt\n          lastResponseStatus\n          lastError\n          event {\n            id\n            type\n            objectId\n            createdAt\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.DashboardWebhookDeliveriesDocument,
};
const documents: Documents = {
    "\n  query DashboardCustomer($id: ID!) {\n    customer(id: $id) {\n      id\n      name\n      email\n      externalId\n      defaultPaymentMethod\n      createdAt\n      testClock {\n        id\n        frozenTime\n      }\n    }\n    subscriptions(customerId: $id, first: 20) {\n      edges {\n        node {\n          id\n          status\n          currency\n          currentPeriodStart\n          currentPeriodEnd\n          cancelAtPeriodEnd\n          items {\n            id\n            quantity\n            price {\n              id\n              nickname\n              product {\n                name\n              }\n              recurring {\n                usageType\n                meter {\n                  id\n                  displayName\n                }\n              }\n            }\n          }\n        }\n      }\n    }\n    invoices(customerId: $id, first: 100) {\n      edges {\n        node {\n          id\n          number\n          status\n          currency\n          total\n          createdAt\n        }\n      }\n    }\n  }\n": types.DashboardCustomerDocument,
    "\n  query DashboardUpcoming($subscriptionId: ID!) {\n    upcomingInvoice(subscriptionId: $subscriptionId) {\n      currency\n      total\n      periodStart\n      periodEnd\n      lines {\n        description\n        amount\n      }\n    }\n  }\n": types.DashboardUpcomingDocument,
    "\n  query DashboardCustomers($search: String, $after: String) {\n    customers(first: 50, search: $search, after: $after) {\n      edges {\n        node {\n          id\n          name\n          email\n          externalId\n          createdAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.DashboardCustomersDocument,
    "\n  query DashboardInvoice($id: ID!) {\n    invoice(id: $id) {\n      id\n      number\n      status\n      billingReason\n      currency\n      periodStart\n      periodEnd\n      subtotal\n      total\n      amountDue\n      amountPaid\n      finalizedAt\n      paidAt\n      dueDate\n      customer {\n        id\n        name\n      }\n      lines {\n        id\n        type\n        description\n        quantity\n        amount\n        periodStart\n        periodEnd\n      }\n    }\n  }\n": types.DashboardInvoiceDocument,
    "\n  query DashboardInvoices($status: InvoiceStatus, $after: String) {\n    invoices(first: 50, status: $status, after: $after) {\n      edges {\n        node {\n          id\n          number\n          status\n          currency\n          total\n          createdAt\n          customer {\n            id\n            name\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.DashboardInvoicesDocument,
    "\n  query SignInCheck {\n    customers(first: 1) {\n      pageInfo {\n        hasNextPage\n      }\n    }\n  }\n": types.SignInCheckDocument,
    "\n  query DashboardUsage($meterId: ID!, $customerId: ID!, $start: DateTime!, $end: DateTime!) {\n    meterEventSummaries(\n      meterId: $meterId\n      customerId: $customerId\n      startTime: $start\n      endTime: $end\n      valueGroupingWindow: DAY\n    ) {\n      startTime\n      aggregatedValue\n    }\n  }\n": types.DashboardUsageDocument,
    "\n  subscription DashboardLiveUsage($meterId: ID!, $customerId: ID!) {\n    usage(meterId: $meterId, customerId: $customerId) {\n      value\n      updatedAt\n    }\n  }\n": types.DashboardLiveUsageDocument,
    "\n  query DashboardWebhookEndpoints {\n    webhookEndpoints {\n      id\n      url\n      description\n      enabledEvents\n      status\n      createdAt\n    }\n  }\n": types.DashboardWebhookEndpointsDocument,
    "\n  query DashboardWebhookDeliveries($endpointId: ID!, $status: WebhookDeliveryStatus, $after: String) {\n    webhookDeliveries(endpointId: $endpointId, status: $status, first: 50, after: $after) {\n      edges {\n        node {\n          id\n          status\n          attemptCount\n          lastAttemptAt\n          nextAttemptAt\n          lastResponseStatus\n          lastError\n          event {\n            id\n            type\n            objectId\n            createdAt\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.DashboardWebhookDeliveriesDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardCustomer($id: ID!) {\n    customer(id: $id) {\n      id\n      name\n      email\n      externalId\n      defaultPaymentMethod\n      createdAt\n      testClock {\n        id\n        frozenTime\n      }\n    }\n    subscriptions(customerId: $id, first: 20) {\n      edges {\n        node {\n          id\n          status\n          currency\n          currentPeriodStart\n          currentPeriodEnd\n          cancelAtPeriodEnd\n          items {\n            id\n            quantity\n            price {\n              id\n              nickname\n              product {\n                name\n              }\n              recurring {\n                usageType\n                meter {\n                  id\n                  displayName\n                }\n              }\n            }\n          }\n        }\n      }\n    }\n    invoices(customerId: $id, first: 100) {\n      edges {\n        node {\n          id\n          number\n          status\n          currency\n          total\n          createdAt\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardCustomerDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardUpcoming($subscriptionId: ID!) {\n    upcomingInvoice(subscriptionId: $subscriptionId) {\n      currency\n      total\n      periodStart\n      periodEnd\n      lines {\n        description\n        amount\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardUpcomingDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardCustomers($search: String, $after: String) {\n    customers(first: 50, search: $search, after: $after) {\n      edges {\n        node {\n          id\n          name\n          email\n          externalId\n          createdAt\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardCustomersDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardInvoice($id: ID!) {\n    invoice(id: $id) {\n      id\n      number\n      status\n      billingReason\n      currency\n      periodStart\n      periodEnd\n      subtotal\n      total\n      amountDue\n      amountPaid\n      finalizedAt\n      paidAt\n      dueDate\n      customer {\n        id\n        name\n      }\n      lines {\n        id\n        type\n        description\n        quantity\n        amount\n        periodStart\n        periodEnd\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardInvoiceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardInvoices($status: InvoiceStatus, $after: String) {\n    invoices(first: 50, status: $status, after: $after) {\n      edges {\n        node {\n          id\n          number\n          status\n          currency\n          total\n          createdAt\n          customer {\n            id\n            name\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardInvoicesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SignInCheck {\n    customers(first: 1) {\n      pageInfo {\n        hasNextPage\n      }\n    }\n  }\n"): typeof import('./graphql').SignInCheckDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardUsage($meterId: ID!, $customerId: ID!, $start: DateTime!, $end: DateTime!) {\n    meterEventSummaries(\n      meterId: $meterId\n      customerId: $customerId\n      startTime: $start\n      endTime: $end\n      valueGroupingWindow: DAY\n    ) {\n      startTime\n      aggregatedValue\n    }\n  }\n"): typeof import('./graphql').DashboardUsageDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DashboardLiveUsage($meterId: ID!, $customerId: ID!) {\n    usage(meterId: $meterId, customerId: $customerId) {\n      value\n      updatedAt\n    }\n  }\n"): typeof import('./graphql').DashboardLiveUsageDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardWebhookEndpoints {\n    webhookEndpoints {\n      id\n      url\n      description\n      enabledEvents\n      status\n      createdAt\n    }\n  }\n"): typeof import('./graphql').DashboardWebhookEndpointsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardWebhookDeliveries($endpointId: ID!, $status: WebhookDeliveryStatus, $after: String) {\n    webhookDeliveries(endpointId: $endpointId, status: $status, first: 50, after: $after) {\n      edges {\n        node {\n          id\n          status\n          attemptCount\n          lastAttemptAt\n          nextAttemptAt\n          lastResponseStatus\n          lastError\n          event {\n            id\n            type\n            objectId\n            createdAt\n          }\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardWebhookDeliveriesDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
