import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { takeKeyFromAddress } from "./auth";
import "./style.css";

// Before anything renders or requests: the key leaves the address bar (and history).
takeKeyFromAddress();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
