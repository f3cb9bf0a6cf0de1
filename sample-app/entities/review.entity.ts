import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { Product } from './product.entity.js';

/** A customer review, shown on its product's page. */
@Entity()
export class Review {
  @PrimaryGeneratedColumn()
  id!: number;

  /** The reviewed product (also the tag that a review change evicts: `Product:{productId}`). */
  @Index()
  @Column()
  productId!: number;

  @ManyToOne(() => Product, { nullable: false, onDelete: 'CASCADE' })
  @JoinColumn({ name: 'productId' })
  product?: Relation<Product>;

  @Column()
  author!: string;

  /** 1 to 5 stars. */
  @Column('int')
  rating!: number;

  @Column('text')
  body!: string;

  @CreateDateColumn()
  createdAt!: Date;
}
