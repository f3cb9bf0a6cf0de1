import { Column, Entity, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { Category } from './category.entity.js';

/** `numeric` comes back as a string from PostgreSQL; the app works with numbers. */
const decimalToNumber = {
  to: (value: number) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

@Entity()
export class Product {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  name!: string;

  @Column({ unique: true })
  slug!: string;

  @Column({ unique: true })
  sku!: string;

  /** Price in USD. */
  @Column('numeric', { precision: 10, scale: 2, transformer: decimalToNumber })
  price!: number;

  /**
   * What the shop pays for the product, in USD: back-office data that no page shows, so changing
   * only this column evicts nothing (see CacheRulesService).
   */
  @Column('numeric', { precision: 10, scale: 2, default: 0, transformer: decimalToNumber })
  costPrice!: number;

  @Column('text')
  description!: string;

  @ManyToOne(() => Category, { nullable: false, eager: true })
  category!: Relation<Category>;
}
