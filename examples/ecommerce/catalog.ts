/**
 * The shop's catalogue: products with a category, a price in the category's range, stock and
 * a reorder point. Generated from the seed like everything else.
 */
import type { Random } from './random.ts'

export interface CatalogProduct {
  id: string
  name: string
  category: string
  price: number
  /** The price before a flash sale (to restore when it ends). */
  listPrice: number
  stock: number
  reorderAt: number
}

/** Categories with their price range: a shop sells socks and laptops at different prices. */
const CATEGORIES: ReadonlyArray<{ name: string; min: number; max: number; items: readonly string[] }> = [
  { name: 'shoes', min: 40, max: 180, items: ['Trail Runner', 'Court Sneaker', 'Hiking Boot', 'Loafer'] },
  { name: 'outdoor', min: 15, max: 400, items: ['Tent', 'Sleeping Bag', 'Headlamp', 'Daypack'] },
  { name: 'kitchen', min: 8, max: 250, items: ['Chef Knife', 'Pour-Over Kettle', 'Cast Iron Pan', 'Mixer'] },
  { name: 'books', min: 6, max: 45, items: ['Cookbook', 'Field Guide', 'Novel', 'Atlas'] },
  { name: 'electronics', min: 20, max: 900, items: ['Headphones', 'E-Reader', 'Speaker', 'Action Camera'] },
  { name: 'toys', min: 5, max: 120, items: ['Puzzle', 'Building Set', 'Board Game', 'Kite'] },
  { name: 'garden', min: 4, max: 300, items: ['Pruning Shears', 'Watering Can', 'Seed Kit', 'Hose Reel'] },
  { name: 'apparel', min: 10, max: 220, items: ['Rain Jacket', 'Merino Sweater', 'Linen Shirt', 'Beanie'] },
]
const STYLES = [
  'Aster',
  'Birch',
  'Cobalt',
  'Dune',
  'Ember',
  'Fjord',
  'Granite',
  'Harbor',
  'Iris',
  'Juniper',
  'Kestrel',
  'Lumen',
  'Meadow',
  'Nimbus',
  'Orchid',
  'Pine',
]

/** Product ids sort in catalogue order: `p-001` … `p-200`. */
export const productId = (i: number) => `p-${String(i + 1).padStart(3, '0')}`

export function makeCatalog(random: Random, size: number): CatalogProduct[] {
  const products: CatalogProduct[] = []
  const used = new Set<string>()
  for (let i = 0; i < size; i++) {
    const category = CATEGORIES[i % CATEGORIES.length]!
    let name: string
    do name = `${random.pick(category.items)} ${random.pick(STYLES)}`
    while (used.has(name) && used.size < size * 4)
    used.add(name)
    // Prices spread log-uniformly over the category's range, ending in .99 or .49 as shops do.
    const raw = Math.exp(random.between(Math.log(category.min), Math.log(category.max)))
    const price = Math.max(0.99, Math.floor(raw) + (random.chance(0.5) ? 0.99 : 0.49))
    const stock = random.int(20, 120)
    products.push({
      id: productId(i),
      name,
      category: category.name,
      price,
      listPrice: price,
      stock,
      reorderAt: random.int(8, 20),
    })
  }
  return products
}
