// Reads a Parquet file with DuckDB (npm @duckdb/node-api) and prints its
// schema as DuckDB sees it and its rows, as JSON: the independent reader of
// TestDuckDBReads. Usage: NODE_PATH=.../node_modules node duckdb_read.mjs FILE
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH, 'x.js'));
const { DuckDBInstance } = require('@duckdb/node-api');
const file = process.argv[2].replaceAll("'", "''");
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const schema = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
const rows = await c.runAndReadAll(`SELECT * EXCLUDE (time), epoch_us(time) AS time_us FROM read_parquet('${file}') ORDER BY request_id, "row"`);
console.log(JSON.stringify({
	schema: schema.getRowObjectsJson().map((r) => `${r.column_name} ${r.column_type}`),
	rows: rows.getRowObjectsJson(),
}));
