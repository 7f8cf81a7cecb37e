import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents from the exported schema: `graphql(...)` in src/ returns a string that
// carries its result and variable types, so no GraphQL parser ships in the bundle.
const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: "string",
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: "string", Decimal: "string", BigInt: "number", JSON: "unknown" },
      },
    },
  },
};

export default config;
