/** The sample shop's initial content: an outdoor gear store. Prices are in USD. */

export const SEED_CATEGORIES = [
  { name: 'Tents', slug: 'tents' },
  { name: 'Backpacks', slug: 'backpacks' },
  { name: 'Footwear', slug: 'footwear' },
  { name: 'Camp Kitchen', slug: 'camp-kitchen' },
];

export const SEED_PRODUCTS: {
  category: string;
  name: string;
  sku: string;
  price: number;
  description: string;
}[] = [
  {
    category: 'tents',
    name: 'Ridgeline 2 Tent',
    sku: 'TN-1001',
    price: 289,
    description:
      'A freestanding two-person tent with two doors, two vestibules and a full rainfly. Pitches in under five minutes.',
  },
  {
    category: 'tents',
    name: 'Summit Solo Bivy',
    sku: 'TN-1002',
    price: 179.5,
    description: 'A minimalist one-person shelter for fast and light trips above the tree line.',
  },
  {
    category: 'tents',
    name: 'Basecamp 4 Family Tent',
    sku: 'TN-1003',
    price: 449,
    description: 'Room for four, near-vertical walls and a large porch for muddy boots.',
  },
  {
    category: 'tents',
    name: 'Ultralight Tarp 3x3',
    sku: 'TN-1004',
    price: 129,
    description: 'Silnylon tarp with twelve tie-outs: a shelter, a kitchen roof or a groundsheet.',
  },
  {
    category: 'tents',
    name: 'Trekking Pole Shelter',
    sku: 'TN-1005',
    price: 239,
    description: 'Uses your trekking poles instead of tent poles. 680 g all in.',
  },
  {
    category: 'backpacks',
    name: 'Trailblazer 45 Pack',
    sku: 'BP-2001',
    price: 189.99,
    description:
      'A 45 litre pack with an adjustable back system, hip-belt pockets and a rain cover.',
  },
  {
    category: 'backpacks',
    name: 'Daytripper 22',
    sku: 'BP-2002',
    price: 79,
    description: 'A comfortable day pack with a hydration sleeve and a padded laptop pocket.',
  },
  {
    category: 'backpacks',
    name: 'Expedition 70',
    sku: 'BP-2003',
    price: 299,
    description:
      'Carries a week of food and a winter kit without complaint. Load lifters, frame sheet and aluminium stay.',
  },
  {
    category: 'backpacks',
    name: 'Summit Bag 30',
    sku: 'BP-2004',
    price: 119,
    description: 'A stripped-down climbing pack with an ice axe loop and a removable lid.',
  },
  {
    category: 'backpacks',
    name: 'Roll-top Dry Pack 25',
    sku: 'BP-2005',
    price: 99,
    description: 'Welded seams and a roll-top closure: for kayaking, biking and very wet days.',
  },
  {
    category: 'footwear',
    name: 'Granite Mid GTX Boot',
    sku: 'FW-3001',
    price: 219,
    description: 'A waterproof mid-cut hiking boot with a grippy rubber sole and a roomy toe box.',
  },
  {
    category: 'footwear',
    name: 'Trail Runner 3',
    sku: 'FW-3002',
    price: 139,
    description: 'Light, fast and cushioned; drains quickly after river crossings.',
  },
  {
    category: 'footwear',
    name: 'Approach Shoe Pro',
    sku: 'FW-3003',
    price: 159,
    description: 'Sticky rubber for scrambling, a stiff sole for the walk in.',
  },
  {
    category: 'footwear',
    name: 'Camp Sandal',
    sku: 'FW-3004',
    price: 49,
    description: 'Weighs almost nothing; your feet will thank you at the end of the day.',
  },
  {
    category: 'footwear',
    name: 'Merino Hiking Socks (2 pack)',
    sku: 'FW-3005',
    price: 34,
    description: 'Cushioned merino wool socks that stay warm when wet and do not smell.',
  },
  {
    category: 'camp-kitchen',
    name: 'Titan Stove',
    sku: 'CK-4001',
    price: 69,
    description: 'A canister stove that boils a litre of water in three minutes.',
  },
  {
    category: 'camp-kitchen',
    name: 'Nesting Cook Set',
    sku: 'CK-4002',
    price: 59,
    description: 'Two pots, a pan and two mugs that nest into one compact bundle.',
  },
  {
    category: 'camp-kitchen',
    name: 'Insulated Mug 350 ml',
    sku: 'CK-4003',
    price: 24.5,
    description: 'Double-walled stainless steel with a sip lid. Keeps coffee hot for hours.',
  },
  {
    category: 'camp-kitchen',
    name: 'Gravity Water Filter 4 L',
    sku: 'CK-4004',
    price: 109,
    description: 'Filters four litres in minutes while you set up camp. No pumping.',
  },
  {
    category: 'camp-kitchen',
    name: 'Long Spork',
    sku: 'CK-4005',
    price: 12.95,
    description: 'Titanium, long enough to reach the bottom of a freeze-dried meal bag.',
  },
];

export const SEED_POSTS = [
  {
    title: 'Choosing your first backpacking tent',
    slug: 'choosing-your-first-backpacking-tent',
    publishedAt: '2025-03-02T09:00:00Z',
    body: 'Weight, space and weather protection: every tent trades one for the others.\n\nFor a first tent, pick a freestanding two-person model. It pitches anywhere, leaves room for your pack, and forgives a less than perfect site.\n\nTry it in the garden before the first trip.',
  },
  {
    title: 'Five ways to a lighter pack',
    slug: 'five-ways-to-a-lighter-pack',
    publishedAt: '2025-04-18T09:00:00Z',
    body: 'Weigh everything. Leave the things you did not use on your last trip at home.\n\nShare the shelter, the stove and the filter with your partner.\n\nRepackage food, bring one pot, and choose trail runners over heavy boots when the terrain allows.',
  },
  {
    title: 'Water on the trail: filter, treat or boil?',
    slug: 'water-on-the-trail',
    publishedAt: '2025-05-27T09:00:00Z',
    body: 'A gravity filter is the most comfortable in camp; a squeeze filter is the lightest on the move.\n\nChemical treatment is the backup that never breaks, and boiling works everywhere you can light a stove.',
  },
  {
    title: 'Breaking in new hiking boots',
    slug: 'breaking-in-new-hiking-boots',
    publishedAt: '2025-07-09T09:00:00Z',
    body: 'Wear them at home first, then on short walks, then on a day hike.\n\nLace them differently for uphill and downhill, and deal with hot spots before they become blisters.',
  },
  {
    title: 'A simple camp kitchen checklist',
    slug: 'camp-kitchen-checklist',
    publishedAt: '2025-09-15T09:00:00Z',
    body: 'Stove, fuel, lighter and a backup lighter. One pot, one mug, one long spork.\n\nA small sponge, a few drops of soap, and a bag to pack out everything you carried in.',
  },
];

export const SEED_SETTINGS = [
  { key: 'StoreSettings.Name', value: 'Trailhead Outfitters' },
  { key: 'CatalogSettings.ShowProductSku', value: 'true' },
  { key: 'CatalogSettings.ProductsPerPage', value: '4' },
];
