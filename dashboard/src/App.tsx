import { useState } from "react";
import { currentKey, signOut } from "./auth";
import { CustomerPage } from "./pages/Customer";
import { CustomersPage } from "./pages/Customers";
import { InvoicePage } from "./pages/Invoice";
import { InvoicesPage } from "./pages/Invoices";
import { SignInPage } from "./pages/SignIn";
import { DeliveriesPage, WebhooksPage } from "./pages/Webhooks";
import { href, useRoute } from "./router";

export function App() {
  const [key, setKey] = useState(currentKey);
  const route = useRoute();
  if (!key) return <SignInPage onSignedIn={() => setKey(currentKey())} />;
  const [section, id] = route.path;
  let page;
  if (section === "invoices" && id) page = <InvoicePage id={id} />;
  else if (section === "invoices") page = <InvoicesPage status={route.params.get("status")} />;
  else if (section === "customers" && id) page = <CustomerPage id={id} />;
  else if (section === "webhooks" && id) page = <DeliveriesPage endpointId={id} status={route.params.get("status")} />;
  else if (section === "webhooks") page = <WebhooksPage />;
  else page = <CustomersPage search={route.params.get("search") ?? ""} />;
  const current = section === "invoices" || section === "webhooks" ? section : "customers";
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header>
        <span className="brand">meterbill</span>
        <nav aria-label="Main">
          <a href={href("customers")} aria-current={current === "customers" ? "page" : undefined}>
            Customers
          </a>
          <a href={href("invoices")} aria-current={current === "invoices" ? "page" : undefined}>
            Invoices
          </a>
          <a href={href("webhooks")} aria-current={current === "webhooks" ? "page" : undefined}>
            Webhooks
          </a>
        </nav>
        <button
          type="button"
          onClick={() => {
            signOut();
            setKey(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}
