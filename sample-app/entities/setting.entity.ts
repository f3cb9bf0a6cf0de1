import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A key/value store setting, such as `CatalogSettings.ShowProductSku`. */
@Entity()
export class Setting {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ unique: true })
  key!: string;

  @Column()
  value!: string;
}
