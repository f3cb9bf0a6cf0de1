import 'reflect-metadata';
import { TypeOrmOutputCacheStore } from '../lib/typeorm.js';
import { describeEvictionAcrossInstances } from './helpers/cross-instance.js';
import { dropPostgresSchema, POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';
import { uniqueName } from './helpers/unique-name.js';

/** A schema of this run's own: the instances share its tables, and nothing else. */
const schema = uniqueName('oc_xinst_typeorm');

describeEvictionAcrossInstances(
  'eviction across instances on the TypeORM store, no bus (e2e, real PostgreSQL)',
  // Each instance has a DataSource of its own on the shared tables.
  () =>
    new TypeOrmOutputCacheStore({
      dataSourceOptions: { type: 'postgres', url: POSTGRES_URL, schema },
      synchronize: true,
      pruneInterval: 0,
    }),
  { beforeAll: () => preparePostgresSchema(schema), afterAll: () => dropPostgresSchema(schema) },
);
