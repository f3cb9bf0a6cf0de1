import 'reflect-metadata';
import { TypeOrmOutputCacheStore } from '../lib/typeorm.js';
import { describeEvictionAcrossInstances } from './helpers/cross-instance.js';
import { POSTGRES_URL, preparePostgresSchema } from './helpers/databases.js';

/** A schema of this suite's own: the two instances share its tables, and nothing else. */
const schema = 'oc_xinst_typeorm';

describeEvictionAcrossInstances(
  'eviction across instances on the TypeORM store, no bus (e2e, real PostgreSQL)',
  // Each instance has a DataSource of its own on the shared tables.
  () =>
    new TypeOrmOutputCacheStore({
      dataSourceOptions: { type: 'postgres', url: POSTGRES_URL, schema },
      synchronize: true,
      pruneInterval: 0,
    }),
  { beforeAll: () => preparePostgresSchema(schema) },
);
